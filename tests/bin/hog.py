"""Takes MiB of memory (argv[1]) and keeps it, touched, until killed: memmon's target."""

import sys
import time

hoard = bytearray(int(sys.argv[1]) * 1024 * 1024)
for i in range(0, len(hoard), 4096):
    hoard[i] = 1  # every page touched: resident, not just reserved
print("hog up", flush=True)
while True:
    time.sleep(1)
