"""Real receivers of alerts on loopback, for every alert test: HTTP, SMTP, Kubernetes, Alertmanager.

Each is a context manager listening on 127.0.0.1 at a port the kernel picks, serving from
threads of its own, and shut down whole on exit (every connection thread joined, every
socket closed).  Each records what it received in a thread-safe list, with
`wait_for(count, timeout)` to wait (bounded) until that many came.

- HttpReceiver (web.py): any request, answered as told: a status, a bearer token's
  check, or a misbehaviour (hang, slow drip, close, refuse), per request;
- tls_files (common.py): a self-signed certificate for 127.0.0.1 and localhost
  (openssl), its own CA;
- SmtpReceiver (mail.py): aiosmtpd, with STARTTLS, implicit TLS and AUTH on demand;
- KubernetesApi (apis.py): Events created and patched (core v1 and events.k8s.io/v1),
  each object validated against the real schemas (kubernetes-validate), behind TLS and a
  bearer token, with a service account directory (token, ca.crt, namespace) as a pod has;
- AlertmanagerApi (apis.py): POST /api/v2/alerts, each postable alert checked for shape.
"""

from tests.receivers.apis import AlertmanagerApi, KubernetesApi
from tests.receivers.common import server_context, tls_files
from tests.receivers.mail import Message, SmtpReceiver
from tests.receivers.web import HttpReceiver, Request

__all__ = [
    "AlertmanagerApi",
    "HttpReceiver",
    "KubernetesApi",
    "Message",
    "Request",
    "SmtpReceiver",
    "server_context",
    "tls_files",
]
