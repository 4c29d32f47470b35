"""ZoomSimulator's sandbox side over real HTTP on 127.0.0.1: each documented input gets the
answer its scenario lists, state survives a restart, and passwords never leave memory."""

import hashlib
import json

import httpx
import pytest
from jsonschema import Draft4Validator

from sandbox.zoom_scenarios import (
    ACCOUNTS_OPENAPI,
    Scenario,
    ZoomScenarios,
    account_create_schema,
    schema_problems,
)
from sandbox.zoom_simulator import ZoomSimulator
from sandbox.zoom_state import SimulatorStateError
from tests.flow.support import approve, post_texts
from tests.harness import ORIGIN_CHANNEL

PASSWORD = "Qm4vTz8Lw2"


class ZoomApi:
    """Talks to the simulator as a client would: a token from /oauth/token, then /v2 calls."""

    def __init__(self, zoom: ZoomSimulator, http: httpx.Client) -> None:
        self.zoom = zoom
        self.http = http
        answer = http.post(
            zoom.oauth_url,
            auth=(zoom.client_id, zoom.client_secret),
            data={"grant_type": "account_credentials", "account_id": zoom.account_id},
        )
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def create(self, email="jill@example.com", **overrides):
        body = {"first_name": "Jill", "last_name": "Chill", "email": email, "password": PASSWORD}
        body.update(overrides)
        return self.http.post(f"{self.zoom.api_url}/accounts", json=body, headers=self.headers)

    def post_raw(self, body):
        return self.http.post(f"{self.zoom.api_url}/accounts", json=body, headers=self.headers)

    def listed(self, email):
        answer = self.http.get(
            f"{self.zoom.api_url}/accounts", params={"email": email}, headers=self.headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["accounts"]


@pytest.fixture
def http():
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
def sandbox():
    with ZoomSimulator() as zoom:
        zoom.use_sandbox_scenarios()
        yield zoom


@pytest.fixture
def api(sandbox, http):
    return ZoomApi(sandbox, http)


def zoom_error(answer):
    return answer.status_code, answer.json()["code"], answer.json()["message"]


# -- each scenario's answer ------------------------------------------------------------------


def test_new_email_is_created_with_the_documented_fields(api):
    answer = api.create("new@example.com")

    assert answer.status_code == 201
    created = answer.json()
    assert set(created) == {"id", "owner_id", "owner_email", "created_at"}
    assert created["owner_email"] == "new@example.com"
    assert api.listed("new@example.com")[0]["id"] == created["id"]


def test_email_created_before_answers_409_in_any_letter_case(api):
    assert api.create("twice@example.com").status_code == 201

    answer = api.create("TWICE@Example.com")

    assert zoom_error(answer) == (409, 1005, 'Email "TWICE@Example.com" has already been used.')


def test_preseeded_taken_email_answers_409(api):
    answer = api.create("taken@example.com")

    assert zoom_error(answer) == (409, 1005, 'Email "taken@example.com" has already been used.')
    assert len(api.listed("taken@example.com")) == 1


def test_blocked_domain_answers_400_1107(api):
    answer = api.create("kim@blocked.example")

    assert zoom_error(answer) == (400, 1107, "Email domain is blocked.")


@pytest.mark.parametrize("names", [{"first_name": "Badword"}, {"last_name": "Mc badword Son"}])
def test_name_with_invalid_word_answers_400_300(api, names):
    answer = api.create(**names)

    assert zoom_error(answer) == (
        400,
        300,
        "Your request could not be completed because the name contains an invalid word: badword",
    )


@pytest.mark.parametrize("character", ["<", ">", "{", "}"])
def test_account_name_with_special_character_answers_400_300(api, character):
    answer = api.create(account_name=f"Acme {character} Labs")

    assert zoom_error(answer) == (
        400,
        300,
        'Your request was not accepted because "account_name" contains special character(s).',
    )


def test_plain_account_name_is_created(api):
    answer = api.create(account_name="Acme (Labs) & Co.")

    assert answer.status_code == 201
    assert api.listed("jill@example.com")[0]["account_name"] == "Acme (Labs) & Co."


@pytest.mark.parametrize("password", ["Sandbox7Qx", "my-SANDBOX-9q"])
def test_password_with_sandbox_answers_400_1111(api, password):
    answer = api.create(password=password)

    status, code, message = zoom_error(answer)
    assert (status, code) == (400, 1111)
    assert message.startswith("Password should not contain")
    assert password not in answer.text


def test_ratelimit_email_is_throttled_once_with_zoom_headers(api):
    answer = api.create("kim+ratelimit@example.com")

    assert zoom_error(answer) == (
        429,
        429,
        "You have reached the maximum per-second rate limit for this API. Try later.",
    )
    assert answer.headers["Retry-After"] == "2"
    assert answer.headers["X-RateLimit-Type"] == "QPS"
    assert answer.headers["X-RateLimit-Category"] == "Light"
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert int(answer.headers["X-RateLimit-Limit"]) > 0
    assert api.listed("kim+ratelimit@example.com") == []


def test_ratelimit_email_is_created_on_the_next_attempt(api):
    api.create("kim+ratelimit@example.com")

    second = api.create("Kim+RateLimit@example.com")

    assert second.status_code == 201


def test_servererror_email_answers_500_and_creates_nothing(api):
    first = api.create("kim+servererror@example.com")
    second = api.create("kim+servererror@example.com")

    assert (first.status_code, first.json()["code"]) == (500, 500)
    assert first.json()["message"]
    assert second.status_code == 500
    assert api.listed("kim+servererror@example.com") == []


def test_rules_are_off_without_the_sandbox_call(http):
    with ZoomSimulator() as zoom:
        api = ZoomApi(zoom, http)
        answers = [
            api.create("kim+ratelimit@example.com"),
            api.create("kim+servererror@example.com"),
            api.create("kim@blocked.example", password="Sandbox7Qx", account_name="A<b>"),
            api.create("taken@example.com", first_name="Badword"),
        ]

        assert [answer.status_code for answer in answers] == [201, 201, 201, 201]
        assert [s.status for s in zoom.scenarios()] == [400, 409, 201]


# -- schema and order ------------------------------------------------------------------------


def test_body_outside_the_schema_answers_400_300_with_field_errors(api):
    answer = api.post_raw(
        {"first_name": "J" * 65, "last_name": "Chill", "email": "a@example.com", "reason": "x"}
    )

    status, code, message = zoom_error(answer)
    assert (status, code, message) == (400, 300, "Validation Failed.")
    fields = {error["field"] for error in answer.json()["errors"]}
    assert fields == {"first_name", "password", "reason"}


def test_schema_is_checked_before_any_scenario(api):
    answer = api.post_raw({"first_name": "J", "last_name": "C", "email": "kim+ratelimit@x.io"})

    assert zoom_error(answer)[:2] == (400, 300)
    assert api.create("kim+ratelimit@x.io").status_code == 429  # not throttled before


def test_first_matching_rule_answers(api):
    throttled = api.create("kim+ratelimit@blocked.example")
    then = api.create("kim+ratelimit@blocked.example")

    assert throttled.status_code == 429
    assert zoom_error(then)[:2] == (400, 1107)


def test_scenarios_are_listed_in_the_order_they_are_checked(sandbox):
    listed = [(s.status, s.code) for s in sandbox.scenarios()]

    assert listed == [
        (400, 300),  # schema
        (429, 429),
        (500, 500),
        (409, 1005),
        (400, 1107),
        (400, 300),  # invalid word
        (400, 300),  # special characters
        (400, 1111),
        (201, None),
    ]
    assert all(isinstance(s, Scenario) and s.trigger and s.answer for s in sandbox.scenarios())


def test_each_listed_scenario_is_what_its_documented_input_gets(api, sandbox):
    inputs = {
        "+ratelimit": {"email": "kim+ratelimit@example.com"},
        "+servererror": {"email": "kim+servererror@example.com"},
        "taken@example.com": {"email": "taken@example.com"},
        "blocked.example": {"email": "kim@blocked.example"},
        "`badword`": {"first_name": "Badword"},
        "`<`": {"account_name": "A <b>"},
        "`sandbox`": {"password": "Sandbox7Qx"},
        "anything else": {"email": "fresh@example.com"},
    }
    for scenario in sandbox.scenarios()[1:]:
        (given,) = [values for key, values in inputs.items() if key in scenario.trigger]

        answer = api.create(**given)

        code = answer.json().get("code") if answer.status_code != 201 else None
        assert (answer.status_code, code) == (scenario.status, scenario.code), scenario
        if code is not None:
            assert answer.json()["message"].split('"')[0] in scenario.answer


def test_scenarios_follow_the_configuration(sandbox):
    sandbox.use_sandbox_scenarios(ZoomScenarios(blocked_domains=("nope.example",)))
    sandbox.invalid_words.add("Zoomy")

    triggers = " | ".join(s.trigger for s in sandbox.scenarios())

    assert "`nope.example`" in triggers
    assert "blocked.example" not in triggers
    assert "`Zoomy`" in triggers


def test_changed_configuration_changes_the_answers(sandbox, http):
    sandbox.use_sandbox_scenarios(ZoomScenarios(blocked_domains=("nope.example",)))
    api = ZoomApi(sandbox, http)

    assert zoom_error(api.create("kim@nope.example"))[:2] == (400, 1107)
    assert api.create("kim@blocked.example").status_code == 201


# -- persistence -----------------------------------------------------------------------------


def sandbox_at(state_path):
    zoom = ZoomSimulator(state_path=state_path)
    zoom.use_sandbox_scenarios()
    return zoom


def test_created_account_answers_409_after_a_restart(tmp_path, http):
    state = tmp_path / "zoom.json"
    with sandbox_at(state) as first:
        created = ZoomApi(first, http).create("kept@example.com").json()

    with sandbox_at(state) as second:
        api = ZoomApi(second, http)
        again = api.create("kept@example.com")

        assert zoom_error(again)[:2] == (409, 1005)
        assert api.listed("kept@example.com")[0]["id"] == created["id"]


def test_throttle_is_not_repeated_after_a_restart(tmp_path, http):
    state = tmp_path / "zoom.json"
    with sandbox_at(state) as first:
        assert ZoomApi(first, http).create("kim+ratelimit@example.com").status_code == 429

    with sandbox_at(state) as second:
        assert ZoomApi(second, http).create("kim+ratelimit@example.com").status_code == 201


def test_request_log_is_kept_across_a_restart(tmp_path, http):
    state = tmp_path / "zoom.json"
    with sandbox_at(state) as first:
        ZoomApi(first, http).create("one@example.com")
        before = first.received_creates()

    with sandbox_at(state) as second:
        ZoomApi(second, http).create("two@example.com")

        after = second.received_creates()

    assert [entry["body"]["email"] for entry in after] == ["two@example.com", "one@example.com"]
    assert after[1] == before[0]


def test_seeded_account_is_seeded_once_across_restarts(tmp_path, http):
    state = tmp_path / "zoom.json"
    with sandbox_at(state):
        pass

    with sandbox_at(state) as second:
        assert len(ZoomApi(second, http).listed("taken@example.com")) == 1


def test_state_file_is_readable_json(tmp_path, http):
    state = tmp_path / "zoom.json"
    with sandbox_at(state) as zoom:
        ZoomApi(zoom, http).create("kim+ratelimit@example.com")

    saved = json.loads(state.read_text())

    assert "\n  " in state.read_text()  # indented for a person to read
    assert saved["throttled_emails"] == ["kim+ratelimit@example.com"]
    assert [a["owner_email"] for a in saved["seeded_accounts"]] == ["taken@example.com"]
    assert saved["received_creates"][0]["status"] == 429
    assert [p.name for p in tmp_path.iterdir()] == ["zoom.json"]  # no temporary file left


def test_without_a_state_path_nothing_is_written(tmp_path, http, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ZoomSimulator() as zoom:
        zoom.use_sandbox_scenarios()
        ZoomApi(zoom, http).create("kim+ratelimit@example.com")
        ZoomApi(zoom, http).create("jill@example.com")

    assert list(tmp_path.iterdir()) == []


def test_unreadable_state_file_is_refused_with_its_path(tmp_path):
    state = tmp_path / "zoom.json"
    state.write_text("{not json")

    with pytest.raises(SimulatorStateError, match=r"zoom\.json"):
        ZoomSimulator(state_path=state)


# -- the request log and the password -------------------------------------------------------


def test_received_creates_newest_first_with_the_password_masked(api, sandbox):
    api.create("one@example.com")
    api.create("taken@example.com")

    received = sandbox.received_creates()

    assert [entry["status"] for entry in received] == [409, 201]
    newest = received[0]
    assert (newest["method"], newest["path"]) == ("POST", "/v2/accounts")
    assert newest["body"] == {
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "taken@example.com",
        "password": "********",
    }
    assert newest["answer"]["code"] == 1005
    assert newest["at"].endswith("+00:00")


def test_received_creates_honours_the_limit(api, sandbox):
    for number in range(3):
        api.create(f"user{number}@example.com")

    received = sandbox.received_creates(limit=2)

    assert [entry["body"]["email"] for entry in received] == [
        "user2@example.com",
        "user1@example.com",
    ]


def test_password_is_in_no_saved_state_and_no_log_entry(tmp_path, http):
    state = tmp_path / "zoom.json"
    short = "Zq9x"  # too short: Zoom's schema message quotes the value it refuses
    with sandbox_at(state) as zoom:
        api = ZoomApi(zoom, http)
        api.create("one@example.com")
        api.create("kim+ratelimit@example.com")
        refused = api.create("two@example.com", password=short)
        shown = json.dumps(zoom.received_creates())
        kept_in_memory = [post.body["password"] for post in zoom.account_posts]

    assert short in refused.text  # so the masking below is what keeps it out
    for password in (PASSWORD, short):
        assert password not in state.read_text()
        assert password not in shown
    assert kept_in_memory == [PASSWORD, PASSWORD, short]  # tests still read it in memory


def test_body_that_is_not_an_object_is_logged_without_its_text(api, sandbox):
    answer = api.post_raw("Qm4vTz8Lw2-alone")

    (entry,) = sandbox.received_creates()
    assert "Qm4vTz8Lw2-alone" in answer.text
    assert entry["body"] is None
    assert entry["answer"] == {"code": 300, "message": "Validation Failed."}


# -- the vendored schema ---------------------------------------------------------------------


# sandbox/accounts.openapi.json is an extract of Zoom's published Accounts (master) document,
# the /accounts path only. A change to it is a change to what the simulator accepts: update the
# digest deliberately, with the reason in the commit.
ACCOUNTS_OPENAPI_SHA256 = "3984ee8600d146b38bf1e9559f6955504719fed92ece23d41e763b19c8259726"
CREATE_FIELDS = {
    "account_name",
    "email",
    "first_name",
    "last_name",
    "options",
    "password",
    "sub_reseller_id",
    "transfer_code",
}
CREATE_REQUIRED = {"email", "first_name", "last_name", "password"}


def create_operation():
    return json.loads(ACCOUNTS_OPENAPI.read_text())["paths"]["/accounts"]["post"]


def documented_example_body():
    """The body Zoom's document gives by example: each required field's `example` value."""
    properties = create_operation()["requestBody"]["content"]["application/json"]["schema"][
        "properties"
    ]
    return {name: properties[name]["example"] for name in sorted(CREATE_REQUIRED)}


def test_vendored_schema_is_the_pinned_copy():
    digest = hashlib.sha256(ACCOUNTS_OPENAPI.read_bytes()).hexdigest()

    assert digest == ACCOUNTS_OPENAPI_SHA256


def test_vendored_schema_is_an_openapi_3_document_with_zooms_documented_answers():
    document = json.loads(ACCOUNTS_OPENAPI.read_text())

    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/accounts"}
    assert {"201", "400", "409", "429"} <= set(create_operation()["responses"])


def test_create_body_schema_has_the_documented_fields_and_required_ones():
    body = create_operation()["requestBody"]

    schema = body["content"]["application/json"]["schema"]

    assert schema["type"] == "object"
    assert set(schema["properties"]) == CREATE_FIELDS
    assert set(schema["required"]) == CREATE_REQUIRED
    Draft4Validator.check_schema(schema)


def test_simulators_validator_accepts_the_documented_example():
    validator = Draft4Validator(account_create_schema())

    assert schema_problems(validator, documented_example_body()) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": None}, "email"),
        ({"first_name": "J" * 65}, "first_name"),
        ({"password": "short"}, "password"),
        ({"reason": "leaked from the modal"}, "reason"),
    ],
)
def test_simulators_validator_rejects_a_body_against_the_schema(change, field):
    validator = Draft4Validator(account_create_schema())
    body = {**documented_example_body(), **change}
    body = {name: value for name, value in body.items() if value is not None}

    problems = schema_problems(validator, body)

    assert [name for name, _ in problems] == [field]


# -- through the real bot --------------------------------------------------------------------


def test_bot_creates_the_account_after_one_rate_limit(bot):
    bot.zoom.use_sandbox_scenarios()
    request = bot.submit_ok(email="kim+ratelimit@example.com")

    final = approve(bot, request)

    assert final.status == "created"
    assert [entry["status"] for entry in bot.zoom.received_creates()] == [201, 429]


def test_bot_reports_a_server_error_as_unknown_and_does_not_look_or_retry(bot):
    bot.zoom.use_sandbox_scenarios()
    request = bot.submit_ok(email="kim+servererror@example.com")

    final = approve(bot, request)

    assert (final.status, final.zoom_http_status) == ("unknown", 500)
    text = post_texts(bot, ORIGIN_CHANNEL)[-1]
    assert "Zoom did not confirm the account" in text
    assert "may or may not have been created" in text
    assert len(bot.zoom.received_creates()) == 1
    assert bot.zoom.account_lists == []


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"account_name": "Acme <Labs>"}, 300),
        ({"password": "Sandbox7Qx"}, 1111),
        ({"first_name": "Badword"}, 300),
        ({"email": "taken@example.com"}, 1005),
    ],
)
def test_bot_form_lets_each_documented_input_through_to_zoom(bot, values, code):
    bot.zoom.use_sandbox_scenarios()
    request = bot.submit_ok(**values)

    final = approve(bot, request)

    assert (final.status, final.zoom_error_code) == ("failed", code)
