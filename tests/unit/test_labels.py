import numpy as np
import pytest

import ocr_helpers as oh


def test_characters_are_numbered_from_one_leaving_zero_for_the_blank():
    lookup = oh.char_to_index("ABC")
    assert lookup == {"A": 1, "B": 2, "C": 3}
    assert oh.index_to_char("ABC") == {1: "A", 2: "B", 3: "C"}
    assert oh.BLANK_INDEX not in lookup.values()
    assert oh.num_classes() == len(oh.CHARSET) + 1 == 37


def test_encode_labels_gives_indices_padded_with_zero():
    encoded = oh.encode_labels(["7K3PX", "AB"])
    assert encoded.dtype == np.int32
    assert encoded.tolist() == [[8, 21, 4, 26, 34], [11, 12, 0, 0, 0]]
    assert oh.label_lengths(encoded).tolist() == [5, 2]


def test_decode_labels_inverts_encode_labels_for_every_character():
    labels = [oh.CHARSET[start:start + 5] for start in range(0, len(oh.CHARSET) - 4)] + ["Z", "00", "A0A"]
    assert oh.decode_labels(oh.encode_labels(labels)) == labels


def test_custom_charset_and_max_length():
    encoded = oh.encode_labels(["abcab", "c"], charset="abc", max_length=6)
    assert encoded.shape == (2, 6)
    assert oh.decode_labels(encoded, charset="abc") == ["abcab", "c"]


def test_unknown_character_names_the_character_and_the_label():
    with pytest.raises(ValueError) as error:
        oh.encode_labels(["7K3PX", "7k3PX"])
    message = str(error.value)
    assert "'k'" in message and "'7k3PX'" in message and "number 1" in message


def test_label_longer_than_max_length_is_refused():
    with pytest.raises(ValueError, match=r"'7K3PX42'.*7 characters.*max_length is 5"):
        oh.encode_labels(["7K3PX42"])


def test_empty_label_and_single_string_are_refused():
    with pytest.raises(ValueError, match="empty"):
        oh.encode_labels(["7K3PX", ""])
    with pytest.raises(ValueError, match=r"single string '7K3PX'"):
        oh.encode_labels("7K3PX")


def test_bad_charsets_are_refused():
    with pytest.raises(ValueError, match="empty"):
        oh.encode_labels(["A"], charset="")
    with pytest.raises(ValueError, match="repeats"):
        oh.char_to_index("ABCA")


def test_decode_labels_refuses_indices_outside_the_charset_and_unbatched_input():
    with pytest.raises(ValueError, match=r"Index 37 is outside 0..36"):
        oh.decode_labels(np.array([[1, 37]]))
    with pytest.raises(ValueError, match=r"encoded\[None\]"):
        oh.decode_labels(np.array([1, 2, 3]))


def test_every_public_name_of_the_package_resolves():
    missing = [name for name in dir(oh) if not name.startswith("_") and not hasattr(oh, name)]
    assert not missing
