"""Each notifier kind's requests (a placeholder: the webhook only)."""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from initsup.alerts.alert import Alert
    from initsup.model_notify import NotifierConfig

    Job = dict[str, Any]


class Format:
    batches = True

    def __init__(self, notifier: NotifierConfig) -> None:
        self.notifier = notifier

    def jobs(self, alerts: list[Alert]) -> list[Job]:
        body = [dict(a.as_dict(), notifier=self.notifier.name, version=1) for a in alerts]
        return [
            {
                "kind": "http",
                "method": "POST",
                "url": self.notifier.url,
                "headers": dict(self.notifier.headers),
                "body": json.dumps(body[0] if len(body) == 1 else {"alerts": body}),
                "timeout": self.notifier.timeout,
                "ca_file": self.notifier.ca_file,
                "token": self.notifier.token,
                "token_file": self.notifier.token_file,
            }
        ]

    def resolved(self, alert: Alert) -> list[Job]:
        return []

    def answered(self, job: Job, reply: dict[str, Any]) -> list[Job]:
        return []


def make(notifier: NotifierConfig, environ: Mapping[str, str]) -> Format:
    return Format(notifier)
