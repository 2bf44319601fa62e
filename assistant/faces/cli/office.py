"""The office server from the command line: accounts (`assistant user …`), feedback review and export
(`assistant feedback …`), the audit log (`assistant audit …`) and the OpenAI-compatible API (`assistant api`).

The database is the setting ``database_url`` (ASSISTANT_DATABASE_URL), by default ``<index_dir>/office.sqlite3``.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assistant.core.errors import AssistantError
from assistant.faces.cli.main import EXTENSIONS, command

ROLES = ("admin", "editor", "reader")


def _office(settings):
    from assistant.app.office import open_office

    return open_office(settings)


def _extend(sub) -> None:
    user = sub.add_parser("user", help="office accounts: add, list, passwd, grant, revoke, key, role, disable, enable")
    verbs = user.add_subparsers(dest="user_cmd", required=True)
    s = verbs.add_parser("add", help="create an account (the password is asked for, or read from stdin)")
    s.add_argument("name")
    s.add_argument("--role", choices=ROLES, default="reader", help="admin: users and all knowledge bases; editor; reader")
    s.add_argument("--password-stdin", dest="password_stdin", action="store_true", help="read the password from stdin")
    s = verbs.add_parser("list", help="accounts with their roles and knowledge-base grants")
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("passwd", help="set a new password (ends the user's sessions)")
    s.add_argument("name")
    s.add_argument("--password-stdin", dest="password_stdin", action="store_true")
    s = verbs.add_parser("grant", help="let a user read (or, as editor, add documents to) a knowledge base")
    s.add_argument("name")
    s.add_argument("knowledge_base")
    s.add_argument("--role", choices=("reader", "editor"), default="reader")
    s = verbs.add_parser("revoke", help="take a knowledge base away from a user")
    s.add_argument("name")
    s.add_argument("knowledge_base")
    s = verbs.add_parser("key", help="create an API key for a user (shown once); --list or --revoke ID")
    s.add_argument("name")
    s.add_argument("--label", default="", help="what the key is for (e.g. 办公室电脑)")
    s.add_argument("--list", dest="list_keys", action="store_true")
    s.add_argument("--revoke", type=int, metavar="ID")
    s = verbs.add_parser("role", help="change a user's role")
    s.add_argument("name")
    s.add_argument("new_role", choices=ROLES)
    for verb, text in (("disable", "stop an account (its sessions and keys stop working)"), ("enable", "re-enable an account")):
        s = verbs.add_parser(verb, help=text)
        s.add_argument("name")

    fb = sub.add_parser("feedback", help="users' 👍/👎: list, review, export accepted corrections as an eval set")
    verbs = fb.add_subparsers(dest="feedback_cmd", required=True)
    s = verbs.add_parser("list", help="feedback, newest first")
    s.add_argument("--status", choices=("new", "accepted", "rejected"))
    s.add_argument("--json", action="store_true")
    s = verbs.add_parser("review", help="accept or reject a feedback (as an admin)")
    s.add_argument("id", type=int)
    decision = s.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", action="store_true")
    decision.add_argument("--reject", action="store_true")
    s.add_argument("--by", required=True, help="the reviewing admin's user name")
    s.add_argument("--article", help="the correct article(s), 《文件名》第N条；…")
    s.add_argument("--keypoint", action="append", default=None, help="a phrase the answer must contain (repeatable)")
    s.add_argument("--note", default="")
    s = verbs.add_parser("export", help="accepted feedback as a Q&A set for `assistant eval`")
    s.add_argument("--out", type=Path, required=True)

    au = sub.add_parser("audit", help="the audit log: export as CSV, statistics")
    verbs = au.add_subparsers(dest="audit_cmd", required=True)
    s = verbs.add_parser("export", help="write the audit log as CSV")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--days", type=int, help="only the last N days")
    s = verbs.add_parser("stats", help="questions per day, refusal rate, top and refused questions, slowest answers")
    s.add_argument("--days", type=int, default=30)
    s.add_argument("--utc-offset", dest="utc_offset", type=int, default=8, help="hours east of UTC for days (default 8)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("api", help="serve the OpenAI-compatible API (/v1/chat/completions, /v1/models, /v1/search)")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")


EXTENSIONS.append(_extend)


def _password(args, prompt: str = "密码：") -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AssistantError("标准输入中没有密码", "用 echo 或文件把密码送入，例如 `… --password-stdin < 密码文件`")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AssistantError("无法在非交互环境中输入密码", "加 --password-stdin 并从标准输入送入密码")
    first = getpass.getpass(prompt)
    if getpass.getpass("再输入一次：") != first:
        raise AssistantError("两次输入的密码不一致", "重新运行命令并输入相同的密码")
    return first


def _user_line(u) -> str:
    grants = "、".join(f"{g.kb}({'编辑' if g.role == 'editor' else '阅读'})" for g in u.grants) or "—"
    state = "  已停用" if u.disabled else ""
    return f"{u.name}\t{u.role}\t知识库：{'全部' if u.is_admin else grants}{state}"


def _user_json(u) -> dict:
    return {
        "name": u.name,
        "role": u.role,
        "disabled": u.disabled,
        "created_at": u.created_at.isoformat(),
        "grants": [{"kb": g.kb, "role": g.role} for g in u.grants],
    }


@command("user")
def cmd_user(args, settings) -> int:
    with _office(settings) as office:
        acc = office.accounts
        verb = args.user_cmd
        if verb == "add":
            u = acc.add(args.name, _password(args), role=args.role)
            office.audit.append("user_add", client="cli", detail=f"{u.name} {u.role}")
            print(f"已创建用户 {u.name}（{u.role}）")
            if u.role != "admin":
                print(f"下一步：`assistant user grant {u.name} 知识库名` 授权，`assistant user key {u.name}` 生成 API 密钥")
        elif verb == "list":
            users = acc.users()
            if args.json:
                print(json.dumps([_user_json(u) for u in users], ensure_ascii=False, indent=1))
            elif not users:
                print("还没有用户。用 `assistant user add 用户名 --role admin` 创建管理员。")
            for u in users if not args.json else ():
                print(_user_line(u))
        elif verb == "passwd":
            u = acc.passwd(args.name, _password(args, "新密码："))
            office.audit.append("user_passwd", client="cli", detail=u.name)
            print(f"已修改 {u.name} 的密码；其已登录的会话已失效")
        elif verb == "grant":
            u = acc.grant(args.name, args.knowledge_base, role=args.role)
            office.audit.append("user_grant", client="cli", kbs=[args.knowledge_base], detail=f"{u.name} {args.role}")
            print(_user_line(u))
        elif verb == "revoke":
            u = acc.revoke(args.name, args.knowledge_base)
            office.audit.append("user_revoke", client="cli", kbs=[args.knowledge_base], detail=u.name)
            print(_user_line(u))
        elif verb == "key":
            if args.list_keys:
                for k in acc.list_keys(args.name):
                    used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "从未使用"
                    state = "已吊销" if k.revoked_at else "有效"
                    print(f"{k.id}\t{k.prefix}…\t{state}\t{k.label or '—'}\t最近使用：{used}")
            elif args.revoke is not None:
                k = acc.revoke_key(args.name, args.revoke)
                office.audit.append("key_revoke", client="cli", detail=f"{k.user_name} key {k.id}")
                print(f"已吊销 {k.user_name} 的密钥 {k.id}（{k.prefix}…）")
            else:
                new = acc.create_key(args.name, args.label)
                office.audit.append("key_create", client="cli", detail=f"{new.info.user_name} key {new.info.id}")
                print(new.key)
                print(f"这是 {new.info.user_name} 的 API 密钥（编号 {new.info.id}），只显示这一次，请妥善保存。", file=sys.stderr)
        elif verb == "role":
            u = acc.set_role(args.name, args.new_role)
            office.audit.append("user_role", client="cli", detail=f"{u.name} {u.role}")
            print(_user_line(u))
        elif verb in ("disable", "enable"):
            u = acc.set_disabled(args.name, verb == "disable")
            office.audit.append(f"user_{verb}", client="cli", detail=u.name)
            print(_user_line(u))
    return 0


@command("feedback")
def cmd_feedback(args, settings) -> int:
    with _office(settings) as office:
        book = office.feedback
        if args.feedback_cmd == "list":
            items = book.entries(status=args.status)
            if args.json:
                print(json.dumps([_feedback_json(f) for f in items], ensure_ascii=False, indent=1))
                return 0
            if not items:
                print("没有反馈。")
            for f in items:
                mark = "👍" if f.rating > 0 else "👎"
                extra = f"  正确条文：{f.correct_article}" if f.correct_article else ""
                print(f"#{f.id}\t{f.status}\t{mark}\t{f.user_name or '—'}\t{f.question}\t{f.comment}{extra}")
        elif args.feedback_cmd == "review":
            reviewer = office.accounts.get(args.by)
            f = book.review(reviewer, args.id, args.accept, args.note, correct_article=args.article, keypoints=args.keypoint)
            office.audit.append("feedback_review", reviewer, client="cli", detail=f"#{f.id} {f.status}")
            print(f"反馈 #{f.id}：{'已接受' if f.status == 'accepted' else '已驳回'}")
        elif args.feedback_cmd == "export":
            n = book.export_eval(args.out)
            print(f"已写出 {n} 道题到 {args.out}；用 `assistant eval {args.out}` 评测")
    return 0


def _feedback_json(f) -> dict:
    return {
        "id": f.id,
        "status": f.status,
        "rating": f.rating,
        "user": f.user_name,
        "question": f.question,
        "answer": f.answer,
        "outcome": f.outcome,
        "comment": f.comment,
        "correct_answer": f.correct_answer,
        "correct_article": f.correct_article,
        "keypoints": list(f.keypoints),
        "citations": [c.as_dict() for c in f.citations],
        "reviewer": f.reviewer_name,
        "review_note": f.review_note,
        "created_at": f.created_at.isoformat(),
    }


@command("audit")
def cmd_audit(args, settings) -> int:
    with _office(settings) as office:
        log = office.audit
        since = datetime.now(UTC) - timedelta(days=args.days) if args.days else None
        if args.audit_cmd == "export":
            n = log.export_csv(args.out, since=since)
            print(f"已写出 {n} 条审计记录到 {args.out}")
            return 0
        per_day = log.questions_per_day(since=since, utc_offset_hours=args.utc_offset)
        rate = log.refusal_rate(since=since)
        top, refused, slow = log.top_questions(10, since=since), log.top_refused(10, since=since), log.slowest(10, since=since)
        if args.json:
            print(json.dumps({
                "days": [{"day": d.day.isoformat(), "questions": d.questions, "refused": d.refused} for d in per_day],
                "questions": rate.questions, "refused": rate.refused, "refusal_rate": round(rate.rate, 4),
                "top_questions": [{"question": t.question, "count": t.count, "refused": t.refused} for t in top],
                "top_refused": [{"question": t.question, "count": t.count} for t in refused],
                "slowest": [{"question": s.question, "ms": s.elapsed_ms, "user": s.user_name, "at": s.at.isoformat()} for s in slow],
            }, ensure_ascii=False, indent=1))  # fmt: skip
            return 0
        print(f"最近 {args.days} 天：{rate.questions} 个问题，未给出有依据回答 {rate.refused} 个（{rate.rate:.1%}）")
        for d in per_day:
            print(f"  {d.day}  {d.questions:>4} 问  {d.refused:>4} 未答")
        for title, rows in (("常见问题", top), ("常见未答问题", refused)):
            print(f"{title}：")
            for t in rows:
                print(f"  {t.count:>4}×  {t.question}")
        print("最慢的回答：")
        for s in slow:
            print(f"  {s.elapsed_ms / 1000:>6.1f} 秒  {s.user_name}  {s.question}")
    return 0


@command("api")
def cmd_api(args, settings) -> int:
    from assistant.faces.api.app import run

    host = args.host or settings.host
    office = _office(settings)
    if office.accounts.count() == 0:
        print("注意：还没有用户。先运行 `assistant user add 用户名 --role admin` 和 `assistant user key 用户名`。", file=sys.stderr)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"注意：监听 {host}，同一网络中的其他计算机可以访问本服务（需要 API 密钥）。", file=sys.stderr)
    print(f"API：http://{host}:{args.port}/v1  （文档 /docs；Ctrl-C 退出）", file=sys.stderr)
    try:
        run(settings, office, host, args.port)
    finally:
        office.close()
    return 0
