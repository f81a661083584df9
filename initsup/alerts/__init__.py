"""Alerts: crashes, give-ups and health changes told to people, without a listener.

- alert.py: one Alert, the facts every notifier's message is made from;
- hub.py: subscribes to the event bus, picks the events each notifier wants and makes
  the Alert (exit, core dump, restarts, stderr's last lines, the pod);
- formats.py, alertmanager.py, kubernetes.py: each notifier kind's requests (webhook
  and Slack bodies, the mail, Alertmanager's v2 alerts, Kubernetes Events), on
  parts.py's shared Format base, wording and text cleaning;
- throttle.py: alarm_interval (one alert per program and event per interval, the rest
  counted) and batches;
- outbox.py: each notifier's bounded queue, rate limit, retries with backoff, and the
  JSON record of every alert sent, dropped or failed;
- courier.py: the helper child that does one send (HTTP(S) or SMTP) with blocking
  stdlib calls and a deadline, so that PID 1's loop never waits on a network
  (courier_http.py and courier_smtp.py do the talking, on courier_net.py's deadline,
  URL and TLS helpers).

Imported only when the configuration has a [notify:x] section: without one, initsup
loads none of this package.
"""
