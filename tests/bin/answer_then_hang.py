"""An HTTP server on 127.0.0.1:PORT (argv[1]) that answers its first ANSWERS requests
(argv[2]) with 200 and then accepts but never answers: httpok's target."""

import socket
import sys
import time

listener = socket.create_server(("127.0.0.1", int(sys.argv[1])), reuse_port=False)
answers = int(sys.argv[2])
print("serving", flush=True)
held = []
while True:
    conn, _ = listener.accept()
    if answers > 0:
        answers -= 1
        conn.recv(65536)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.close()
    else:
        held.append(conn)  # never answered, never closed
        print("hanging", flush=True)
        time.sleep(0.01)
