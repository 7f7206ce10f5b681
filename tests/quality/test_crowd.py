"""The crowd's answer and agreement with it, without the database."""

from quality import crowd


class TestDisputes:
    QUESTIONS = [{"name": "side", "kind": "pairwise"},
                 {"name": "tags", "kind": "multi_label", "options": ["a", "b"]},
                 {"name": "grade", "kind": "rating", "min": 1, "max": 5},
                 {"name": "ranked", "kind": "ranking"}]

    def disputed(self, answers, *, spread=1):
        return crowd.disputed(self.QUESTIONS, answers, agreement_threshold=0.7,
                              rating_spread_threshold=spread)

    def test_pairwise_strength_does_not_split_a_side(self):
        answers = [({"side": {"choice": "A", "strength": 1}}, 1.0),
                   ({"side": {"choice": "A", "strength": 3}}, 1.0)]
        assert not self.disputed(answers)
        assert self.disputed([*answers, ({"side": "B"}, 1.0)])

    def test_multi_label_disputes_option_by_option(self):
        agree = [({"tags": ["a"]}, 0.5), ({"tags": ["a"]}, 0.5), ({"tags": ["a", "b"]}, 0.1)]
        assert not self.disputed(agree)
        split = [({"tags": ["a"]}, 0.5), ({"tags": ["a", "b"]}, 0.5)]
        assert self.disputed(split)

    def test_ratings_by_spread_and_rankings_never(self):
        assert not self.disputed([({"grade": 2}, 1), ({"grade": 3}, 1)])
        assert self.disputed([({"grade": 2}, 1), ({"grade": 4}, 1)])
        assert not self.disputed([({"grade": 2}, 1), ({"grade": 4}, 1)], spread=2)
        assert not self.disputed([({"ranked": [0, 1]}, 1), ({"ranked": [1, 0]}, 1)])

    def test_a_single_answer_is_never_a_dispute(self):
        assert not self.disputed([({"side": "A", "grade": 1}, 1)])
