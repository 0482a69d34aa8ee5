"""The incremental-export base: each poll reports its own HTTP answers, failed polls included."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from exporter.sources.base import SourceError
from exporter.sources.zendesk import TICKETS_PATH
from tests.sources.helpers import EMPTY, NOW, make_source, serve, url


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        pytest.param(401, "auth", id="refused-token"),
        pytest.param(404, "http_4xx", id="wrong-url"),
    ],
)
def test_a_failed_poll_reports_its_answers_and_the_next_poll_only_its_own(
    status: int, reason: str, tmp_path: Path
) -> None:
    source = make_source(tmp_path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(url(TICKETS_PATH), status=status, json={"error": "no"})
        with pytest.raises(SourceError) as caught:
            source.poll(None, NOW)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, EMPTY)
        result = source.poll(None, NOW)

    assert (caught.value.reason, caught.value.api_codes) == (reason, {str(status): 1})
    assert result.api_codes == {"200": len(EMPTY)}
    assert result.requests == len(EMPTY)
