"""Script policy of labels: zh to Simplified with OpenCC, ja/ko and the rest unchanged."""

from builders.labels import normalize_label, traditional_out_of_context


def test_zh_labels_become_simplified():
    assert normalize_label("臺灣", "zh") == "台湾"
    assert normalize_label("微軟視窗", "zh") == "微软视窗"
    assert normalize_label(" 蘇聯 ", "zh") == "苏联"
    assert normalize_label("北京", "zh") == "北京"  # already Simplified


def test_ja_ko_and_latin_labels_are_kept():
    # Japanese shinjitai that a Chinese converter would change, and kyūjitai kept as given
    assert normalize_label("東京都", "ja") == "東京都"
    assert normalize_label("國學院大學", "ja") == "國學院大學"
    assert normalize_label("대한민국", "ko") == "대한민국"
    assert normalize_label(" Oufa ", "fr") == "Oufa"


def test_traditional_characters_are_detected():
    assert traditional_out_of_context("臺灣") == ["臺", "灣"]
    assert traditional_out_of_context("台湾") == []
    assert traditional_out_of_context(normalize_label("維基百科", "zh")) == []
