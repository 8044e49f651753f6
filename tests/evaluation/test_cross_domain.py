"""Cross-domain helpers: coverage of target text by the source vocabulary, row names."""

from instructrec_jax.evaluation.cross_domain import cross_domain_name, vocabulary_coverage


class KnownWords:
    """Known words get ids >= 3; anything else is the unknown id 2."""

    unk_id = 2

    def __init__(self, words):
        self.ids = {word: 3 + i for i, word in enumerate(words)}

    def encode(self, s):
        return [self.ids.get(word, self.unk_id) for word in s.split()]


def test_vocabulary_coverage_counts_unknown_pieces():
    coverage = vocabulary_coverage(["red fox", "blue whale song"], KnownWords(["red", "song"]))
    assert coverage == {"texts": 2, "pieces": 5, "unknown_pieces": 3, "unknown_share": 0.6}
    assert vocabulary_coverage([], KnownWords([]))["unknown_share"] == 0.0


def test_cross_domain_row_names():
    assert cross_domain_name("InstructRec", "ml-100k") == "InstructRec (trained on ml-100k)"
    assert cross_domain_name("InstructRec", None) == "InstructRec"
