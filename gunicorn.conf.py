"""gunicorn settings of `make run`; tests/test_server.py starts gunicorn with this very file.

Threaded workers (`gthread`), so that slow clients cannot stall the server. With gunicorn 27, a connection
that sends nothing gives its thread back after 5 s and waits in the worker's poller, as an idle keep-alive
connection always does. A client that trickles its headers or body does hold one thread, with no
time limit (gunicorn has no header or body read timeout), so each worker keeps many threads: it takes
16 trickling clients on one worker to delay that worker, 32 to stall Sorriso. Two `sync` workers stalled with two.
A Sorriso reachable beyond the clinic's network belongs behind a reverse proxy that buffers requests and
times slow clients out (nginx: client_header_timeout, client_body_timeout).
`make run WORKERS=4 THREADS=32` overrides the counts.
"""

wsgi_app = "wsgi:app"
worker_class = "gthread"
workers = 2  # SQLite serialises writers: more processes add little on a clinic's small server
threads = 16  # per worker; a thread blocked reading a slow client costs memory only, not CPU
timeout = 30  # a worker whose main loop is stuck this long (not a slow request) is restarted
graceful_timeout = 20
keepalive = 5  # seconds an idle browser connection stays open (in the poller, without a thread)
accesslog = "-"
control_socket_disable = True
