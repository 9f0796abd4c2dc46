#!/bin/sh
# civostack: the local API server accepts connections.
exec /usr/bin/timeout 2 /bin/bash -c '</dev/tcp/127.0.0.1/6443'
