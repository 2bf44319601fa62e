"""All Chinese text handling: normalization, encodings, tokens, sentences, numerals, document structure, similarity,
and the thesaurus. Other layers import the names below from `assistant.text`."""

from assistant.text.normalize import normalize, squeeze_cjk_spaces
from assistant.text.sentences import sentences
from assistant.text.tokens import jieba_tokenizer, query_tokens, tokenize, user_terms

__all__ = ["jieba_tokenizer", "normalize", "query_tokens", "sentences", "squeeze_cjk_spaces", "tokenize", "user_terms"]
