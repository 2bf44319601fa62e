from assistant.text import normalize, query_tokens, sentences, squeeze_cjk_spaces, tokenize, user_terms


def test_normalize_folds_width_but_keeps_chinese_punctuation():
    raw = "第一条　为了加强监督,制定本条例:(一)坚持原则;\r\nＡＢＣ１２３"
    out = normalize(raw)
    assert out == "第一条 为了加强监督，制定本条例：（一）坚持原则；\nABC123"


def test_normalize_keeps_ascii_punctuation_between_latin():
    assert normalize("version 1.2, build 3: ok") == "version 1.2, build 3: ok"


def test_normalize_multiline_parenthesis_and_bom():
    assert normalize("\ufeff(2020年2月26日审议批准\n2020年3月9日发布)") == "（2020年2月26日审议批准\n2020年3月9日发布）"


def test_squeeze_heading_spaces():
    assert squeeze_cjk_spaces("第一章 总 则") == "第一章总则"


def test_party_terms_stay_whole():
    for term in ["一岗双责", "四风", "两个维护", "三会一课", "四种形态", "八项规定"]:
        assert term in user_terms()
        assert term in tokenize(f"各级党组织要落实{term}的要求")


def test_query_tokens_drop_stop_words_and_punctuation():
    assert query_tokens("一岗双责要求我做什么？") == ("一岗双责",)


def test_sentences_are_verbatim_substrings():
    text = "第一条 为了规范问责工作，制定本条例。第二条 问责应当坚持原则；做到有责必问！\n（一）第一项"
    parts = sentences(text)
    assert parts == ["第一条 为了规范问责工作，制定本条例。", "第二条 问责应当坚持原则；", "做到有责必问！", "（一）第一项"]
    assert all(p in text for p in parts)
