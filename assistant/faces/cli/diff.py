"""`assistant diff 标题 --from 2018 --to 2024`: what changed between two versions of a document."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.faces.cli.main import EXTENSIONS, command


def _extend(sub) -> None:
    s = sub.add_parser("diff", help="article-by-article changes between two versions of a document",
                       description="版本对比：按内容对齐两个版本的条文（重新编号的条文也能对上），列出新增/删除/修改，并逐字标出修改处。")
    s.add_argument("title", help="文件标题，如 中华人民共和国监察法")
    s.add_argument("--from", dest="old_year", required=True, help="旧版本年份，如 2018")
    s.add_argument("--to", dest="new_year", required=True, help="新版本年份，如 2024")
    s.add_argument("--dir", type=Path, help="存放各版本文件的文件夹（默认：知识库文件夹）")
    s.add_argument("--json", action="store_true")


EXTENSIONS.append(_extend)


@command("diff")
def cmd_diff(args, settings) -> int:
    from assistant.app.documents import diff_versions

    diff = diff_versions(args.dir or Path(settings.knowledge_dir), args.title, args.old_year, args.new_year)
    if args.json:
        print(json.dumps({
            "title": args.title, "from": args.old_year, "to": args.new_year, "summary": diff.counts,
            "changes": [{
                "status": c.status, "old": c.old.number if c.old else None, "new": c.new.number if c.new else None,
                "similarity": round(c.similarity, 3), "split_from": c.source.number if c.source else None,
                "diff": c.diff,
            } for c in diff.changes],
        }, ensure_ascii=False, indent=1))
    else:
        print(diff.text)
    return 0
