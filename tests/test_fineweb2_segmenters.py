"""The `fineweb-2` recipe splits unspaced scripts into words with the segmenters datatrove assigns them
(curate/filters/segmenters.py): one short real sentence per language, segmented as a reader would."""

from __future__ import annotations

import pytest

from curate.filters.fineweb2 import splitter
from curate.filters.spacy_words import JA_CHUNK_BYTES, byte_chunks
from curate.filters.text import words

SENTENCES = {
    # Natsume Soseki, "I Am a Cat": SudachiPy (spaCy's ja) joins kanji compounds and kana words.
    "ja": ("吾輩は猫である。名前はまだ無い。",
           ("吾輩", "は", "猫", "で", "ある", "。", "名前", "は", "まだ", "無い", "。")),
    # "I like eating fried rice a lot": pythainlp newmm-safe, ข้าวผัด (fried rice) one word.
    "th": ("ผมชอบกินข้าวผัดมาก", ("ผม", "ชอบ", "กิน", "ข้าวผัด", "มาก")),
    # "I went to school today": Kiwi's morphemes as text spans (가+았 both cover 갔, as in datatrove).
    "ko": ("나는 오늘 학교에 갔다.", ("나", "는", "오늘", "학교", "에", "갔", "갔", "다", ".")),
    # "I love the country of Cambodia": khmer-nltk's CRF.
    "km": ("ខ្ញុំស្រឡាញ់ប្រទេសកម្ពុជា", ("ខ្ញុំ", "ស្រឡាញ់", "ប្រទេស", "កម្ពុជា")),
    # "The Lao language is a beautiful language": laonlp.
    "lo": ("ພາສາລາວເປັນພາສາທີ່ສວຍງາມ", ("ພາສາລາວ", "ເປັນ", "ພາສາ", "ທີ່", "ສວຍງາມ")),
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_an_unspaced_script_is_split_by_its_own_segmenter(lang: str) -> None:
    text, want = SENTENCES[lang]
    assert splitter(lang)(text) == want
    assert words(text) != want  # assay's own splitting (the fallback before) gives other tokens


def test_burmese_and_tibetan_are_split_into_syllables_and_whitespace_languages_by_spacy() -> None:
    # "Burmese script is beautiful." / "Hello (tashi delek). I and you.": no installable segmenter
    # (segmenters.py), syllables instead, the units their FineWeb-2 stop words (သည်, དང་) are made of
    assert splitter("my")("မြန်မာစာသည်လှပသည်။") == ("မြန်", "မာ", "စာ", "သည်", "လှ", "ပ", "သည်", "။")
    assert splitter("bo")("བཀྲ་ཤིས་བདེ་ལེགས། ང་དང་ཁྱེད།") == (
        "བཀྲ་", "ཤིས་", "བདེ་", "ལེགས", "།", "ང་", "དང་", "ཁྱེད", "།")
    # datatrove's WhitespaceTokenizer (Georgian) splits with spaCy's "xx" rules: punctuation apart
    assert splitter("ka")("გამარჯობა, მსოფლიო!") == ("გამარჯობა", ",", "მსოფლიო", "!")


def test_a_long_japanese_page_is_cut_under_sudachis_input_limit() -> None:
    text = "吾輩は猫である。" * 2200  # 52,800 UTF-8 bytes: SudachiPy alone refuses over 49,149
    chunks = byte_chunks(text, JA_CHUNK_BYTES)
    assert "".join(chunks) == text and len(chunks) == 2
    assert all(len(c.encode()) <= JA_CHUNK_BYTES for c in chunks)
    assert splitter("ja")(text).count("猫") == 2200
