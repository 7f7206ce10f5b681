"""The API's JSON renderer writes whatever an answer holds, unpaired surrogates included."""

import json

from config.renderers import JSONRenderer


def test_an_unpaired_surrogate_is_escaped_instead_of_failing():
    data = {"preset": ['"\ud800" is not a valid choice.']}
    rendered = JSONRenderer().render(data)
    assert b"\\ud800" in rendered
    assert json.loads(rendered) == data


def test_other_text_stays_plain_utf8():
    rendered = JSONRenderer().render({"name": "Kardiologie · 心脏"})
    assert rendered == '{"name":"Kardiologie · 心脏"}'.encode()


def test_the_api_answers_with_it(api):
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert isinstance(response.accepted_renderer, JSONRenderer)
