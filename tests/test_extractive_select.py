"""Which retrieved provisions the extractive answer quotes."""

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.core.types import Chunk, Hit


def hit(article: str, concept: float, cosine: float | None, doc: str = "d1") -> Hit:
    scores = {"concept": concept} | ({} if cosine is None else {"cosine": cosine})
    chunk = Chunk(id=f"{doc}-{article}", doc_id=doc, title="条例", text=f"{article}　内容。", article=article)
    return Hit(chunk, 1.0, 0, tuple(scores.items()))


def test_a_question_in_its_own_words_also_quotes_the_runner_up_close_in_meaning():
    pick = ExtractiveAnswerer().select
    assert pick([hit("第九十七条", 0.12, 0.920), hit("第一百零二条", 0.10, 0.905), hit("第三条", 0.1, 0.904)]) == [0, 1]
    # Far behind in meaning: the top provision alone.
    assert pick([hit("第九十七条", 0.12, 0.920), hit("第一百零二条", 0.10, 0.850)]) == [0]
    # Only the runner-up article: a third one close in meaning is not pulled in after a far runner-up.
    assert pick([hit("第九十七条", 0.12, 0.920), hit("第一百零二条", 0.10, 0.850), hit("第三条", 0.1, 0.919)]) == [0]
    # Another chunk of the same article does not count as the runner-up.
    assert pick([hit("第九十七条", 0.12, 0.920), hit("第九十七条", 0.12, 0.919), hit("第三条", 0.1, 0.915)]) == [0, 2]
    # No dense score for the runner-up (BM25 alone found it): nothing to compare, the top provision alone.
    assert pick([hit("第九十七条", 0.12, 0.920), hit("第一百零二条", 0.10, None)]) == [0]


def test_a_question_in_the_provisions_words_keeps_the_concept_floor():
    pick = ExtractiveAnswerer().select
    # The best provision holds most of the question: the runner-up needs its share of the question, not closeness.
    assert pick([hit("第九十七条", 0.80, 0.920), hit("第一百零二条", 0.30, 0.919)]) == [0]
    assert pick([hit("第九十七条", 0.80, 0.920), hit("第一百零二条", 0.70, 0.800)]) == [0, 1]


def test_the_cited_articles_are_a_prefix_of_the_ranking():
    pick = ExtractiveAnswerer().select
    # A runner-up below the floor stops the citations: the third article, though it holds enough of the question, was
    # ranked below one that does not, so it is not cited.
    assert pick([hit("第九十七条", 0.80, 0.920), hit("第一百零二条", 0.30, 0.919), hit("第三条", 0.75, 0.900)]) == [0]
    # Without the article between them it is.
    assert pick([hit("第九十七条", 0.80, 0.920), hit("第三条", 0.75, 0.900)]) == [0, 1]
