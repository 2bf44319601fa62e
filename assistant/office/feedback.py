"""👍/👎 on answers, an admin's review, and accepted corrections as lines of an eval set.

An accepted feedback becomes one Q&A line in the eval format (evals/README.md: id, question, answerable, gold,
keypoints, type, notes, style), so `assistant eval set.jsonl` runs on the export:

- the gold sources are the "correct article" field when given (《文件》第N条, several separated by ；);
  otherwise, for a 👍 on a cited answer, the articles it cited;
- with gold sources the question is answerable (type policy); without, it is unanswerable: a 👍 on a refusal, or
  a 👎 on an answer that should have been a refusal;
- a 👎 on a refusal without a correct article cannot become a line: the reviewer must name the article to accept it;
- keypoints are the ones the reviewer gives (the eval counts them in the answer); the comment and the correct
  answer go into ``notes``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.core.errors import AssistantError
from assistant.office.accounts import UserInfo
from assistant.office.db import Database
from assistant.office.history import CitationRecord, citation_records
from assistant.office.models import FEEDBACK_STATUSES, Conversation, Feedback, Message, User
from assistant.text.structure import CN_NUM, int_to_cn

EVAL_STYLE = "反馈"
_SPLIT = re.compile(r"[；;\n]+")
_BOOK = re.compile(r"^《(?P<doc>[^》]+)》\s*(?P<rest>.*)$")
_ARTICLE = re.compile(rf"第\s*(?P<num>[0-9０-９]+|[{CN_NUM}]+)\s*条")


@dataclass(frozen=True)
class FeedbackInfo:
    id: int
    user_id: int | None
    user_name: str
    message_id: int | None
    rating: int  # +1 👍, -1 👎
    comment: str
    correct_answer: str
    correct_article: str
    keypoints: tuple[str, ...]
    question: str
    answer: str
    outcome: str
    citations: tuple[CitationRecord, ...]
    kbs: tuple[str, ...]
    status: str  # new | accepted | rejected
    reviewer_name: str
    review_note: str
    reviewed_at: datetime | None
    created_at: datetime


def _article(text: str) -> str:
    m = _ARTICLE.search(text)
    if not m:
        return text.strip()
    num = m.group("num")
    if num[0].isdigit() or num[0] in "０１２３４５６７８９":
        num = int_to_cn(int(num.translate(str.maketrans("０１２３４５６７８９", "0123456789"))))
    return f"第{num}条"


def parse_articles(text: str) -> list[dict[str, str]]:
    """'《中国共产党纪律处分条例》第88条；监察法 第十条' → [{doc, article}, …] in the eval's gold format."""
    gold: list[dict[str, str]] = []
    for part in _SPLIT.split(text or ""):
        part = part.strip()
        if not part:
            continue
        m = _BOOK.match(part)
        if m:
            doc, rest = m.group("doc").strip(), m.group("rest").strip()
        else:
            am = _ARTICLE.search(part)
            doc, rest = (part[: am.start()].strip(), part[am.start() :]) if am else (part, "")
        if not doc:
            raise AssistantError(f"正确条文 {part!r} 没有写出文件名", "写成《文件名》第N条，多条用；分隔")
        gold.append({"doc": doc, "article": _article(rest) if rest else ""})
    return gold


def _cited_gold(citations: Iterable[CitationRecord]) -> list[dict[str, str]]:
    gold: list[dict[str, str]] = []
    for c in citations:
        doc = f"{c.title}({c.version})" if c.version else c.title
        item = {"doc": doc, "article": c.article}
        if c.title and item not in gold:
            gold.append(item)
    return gold


def eval_item(info: FeedbackInfo) -> dict[str, Any]:
    """The eval-set line (a dict in the format of evals/README.md) for one feedback; an error says what is missing."""
    if info.correct_article.strip():
        gold = parse_articles(info.correct_article)
    elif info.rating > 0 and info.outcome == "answer":
        gold = _cited_gold(info.citations)
    else:
        gold = []
    refusal_is_right = (info.rating > 0) != (info.outcome == "answer")  # 👍 on a refusal, 👎 on an answer
    if not gold and not refusal_is_right:
        what = "对“未回答”的差评" if info.rating < 0 else "对一个没有引用的回答的好评"
        raise AssistantError(
            f"反馈 #{info.id} 是{what}，但没有填写正确条文", "审核时填写正确条文（《文件名》第N条）后再接受，或驳回"
        )
    notes = [f"来自反馈 #{info.id}（{'👍' if info.rating > 0 else '👎'}，原结果 {info.outcome or '—'}）"]
    if info.comment.strip():
        notes.append(f"意见：{info.comment.strip()}")
    if info.correct_answer.strip():
        notes.append(f"正确答案：{info.correct_answer.strip()}")
    if info.review_note.strip():
        notes.append(f"审核：{info.review_note.strip()}")
    return {
        "id": f"feedback-{info.id}",
        "question": info.question,
        "answerable": bool(gold),
        "gold": gold,
        "keypoints": list(info.keypoints) if gold else [],
        "type": "policy" if gold else "unanswerable",
        "notes": "；".join(notes),
        "style": EVAL_STYLE,
    }


def _clean_keypoints(keypoints: Iterable[str]) -> list[str]:
    out = [k.strip() for k in keypoints if k and k.strip()]
    return list(dict.fromkeys(out))


class FeedbackBook:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _info(self, s: Session, f: Feedback) -> FeedbackInfo:
        names = {}
        ids = {i for i in (f.user_id, f.reviewer_id) if i is not None}
        if ids:
            names = {i: n for i, n in s.execute(select(User.id, User.name).where(User.id.in_(ids)))}
        return FeedbackInfo(
            id=f.id,
            user_id=f.user_id,
            user_name=names.get(f.user_id, "") if f.user_id is not None else "",
            message_id=f.message_id,
            rating=f.rating,
            comment=f.comment,
            correct_answer=f.correct_answer,
            correct_article=f.correct_article,
            keypoints=tuple(f.keypoints or ()),
            question=f.question,
            answer=f.answer,
            outcome=f.outcome,
            citations=citation_records(f.citations or []),
            kbs=tuple(f.kbs or ()),
            status=f.status,
            reviewer_name=names.get(f.reviewer_id, "") if f.reviewer_id is not None else "",
            review_note=f.review_note,
            reviewed_at=f.reviewed_at,
            created_at=f.created_at,
        )

    def give(
        self,
        user: UserInfo,
        message_id: int,
        rating: int,
        comment: str = "",
        correct_answer: str = "",
        correct_article: str = "",
    ) -> FeedbackInfo:
        """Record (or replace) the user's 👍 (+1) or 👎 (-1) on one of their own answers; it waits for review."""
        if rating not in (1, -1):
            raise AssistantError(f"评价 rating={rating!r} 无效", "👍 为 1，👎 为 -1")
        if correct_article.strip():
            parse_articles(correct_article)  # refuse an unreadable article now, while the user is still there
        now = self.db.now()
        with self.db.begin() as s:
            row = s.execute(
                select(Message, Conversation.kbs, Conversation.user_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == message_id)
            ).first()
            if row is None or row[2] != user.id:
                raise AssistantError(f"回答编号 {message_id} 不存在（或不属于用户 {user.name}）", "只能评价自己历史记录中的回答")
            msg, kbs = row[0], row[1]
            fb = s.scalar(select(Feedback).where(Feedback.user_id == user.id, Feedback.message_id == message_id))
            if fb is None:
                fb = Feedback(user_id=user.id, message_id=message_id, created_at=now)
                s.add(fb)
            fb.rating = rating
            fb.comment = (comment or "").strip()
            fb.correct_answer = (correct_answer or "").strip()
            fb.correct_article = (correct_article or "").strip()
            fb.keypoints = []
            fb.question, fb.answer, fb.outcome = msg.question, msg.answer, msg.outcome
            fb.citations, fb.kbs = list(msg.citations or []), list(kbs or [])
            fb.status, fb.reviewer_id, fb.review_note, fb.reviewed_at = "new", None, "", None
            s.flush()
            return self._info(s, fb)

    def get(self, feedback_id: int) -> FeedbackInfo:
        with self.db.begin() as s:
            fb = s.get(Feedback, feedback_id)
            if fb is None:
                raise AssistantError(f"反馈编号 {feedback_id} 不存在", "用反馈列表查看编号")
            return self._info(s, fb)

    def entries(self, status: str | None = None, limit: int = 200, offset: int = 0) -> list[FeedbackInfo]:
        if status is not None and status not in FEEDBACK_STATUSES:
            raise AssistantError(f"反馈状态 {status!r} 无效", f"可用的状态：{' | '.join(FEEDBACK_STATUSES)}")
        with self.db.begin() as s:
            stmt = select(Feedback).order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit).offset(offset)
            if status is not None:
                stmt = stmt.where(Feedback.status == status)
            return [self._info(s, f) for f in s.scalars(stmt)]

    def review(
        self,
        reviewer: UserInfo,
        feedback_id: int,
        accept: bool,
        note: str = "",
        *,
        correct_article: str | None = None,
        keypoints: Iterable[str] | None = None,
    ) -> FeedbackInfo:
        """An admin accepts or rejects a feedback; accepting checks that it makes a valid eval line."""
        if not reviewer.is_admin or reviewer.disabled:
            raise AssistantError(f"用户 {reviewer.name!r} 不是管理员，不能审核反馈", "请管理员（admin）审核")
        with self.db.begin() as s:
            fb = s.get(Feedback, feedback_id)
            if fb is None:
                raise AssistantError(f"反馈编号 {feedback_id} 不存在", "用反馈列表查看编号")
            if correct_article is not None:
                if correct_article.strip():
                    parse_articles(correct_article)
                fb.correct_article = correct_article.strip()
            if keypoints is not None:
                fb.keypoints = _clean_keypoints(keypoints)
            fb.status = "accepted" if accept else "rejected"
            fb.reviewer_id = reviewer.id
            fb.review_note = (note or "").strip()
            fb.reviewed_at = self.db.now()
            s.flush()
            info = self._info(s, fb)
            if accept:
                eval_item(info)  # raises (and rolls back) when the feedback cannot become an eval line
            return info

    def eval_lines(self) -> list[str]:
        """The accepted feedback as JSONL lines of an eval set, oldest first."""
        with self.db.begin() as s:
            stmt = select(Feedback).where(Feedback.status == "accepted").order_by(Feedback.id)
            infos = [self._info(s, f) for f in s.scalars(stmt)]
        return [json.dumps(eval_item(i), ensure_ascii=False) for i in infos]

    def export_eval(self, path: str | Path) -> int:
        """Write the accepted feedback as an eval set; returns the number of questions written."""
        lines = self.eval_lines()
        path = Path(path)
        if not lines:
            raise AssistantError("没有已接受的反馈，未写出评测集", "管理员先审核并接受反馈，再导出")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        except OSError as e:
            raise AssistantError(f"无法写入 {path}（{e.strerror}）", "换一个可写的位置或文件名") from None
        return len(lines)
