#!/usr/bin/env python3
"""A PXE firmware's DHCP client (PXE 2.1 specification), for integration tests against proxyDHCP.

  pxe-client.py IFACE MAC ARCH CIADDR [USERCLASS]

IFACE already holds CIADDR, the address the site's own DHCP server leased it. ARCH is the client
system type (option 93): 0 for BIOS, 7 for x86-64 UEFI; USERCLASS "iPXE" makes it iPXE's second
round (and asks for option 175, iPXE's own). As the firmware does:
  1. broadcast a DHCPDISCOVER (options 60, 93, 94, 97, the PXE parameter list, 77 if USERCLASS),
     resent each second for up to 8 s, and take the first DHCPOFFER;
  2. if that offer names no boot file, ask the boot server on port 4011 with a DHCPREQUEST: the
     server and boot item the offer's PXE menu gives (option 43, sub-options 8 and 9), or the
     offer's siaddr when there is no menu (dnsmasq sends UEFI clients there directly).
Prints {"offer": ..., "ack": ...} as JSON; exits 1 when no offer came.
Only the Python standard library: it must run wherever dnsmasq does.
"""
import json
import random
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"
HEADER = "!BBBBIHH4s4s4s4s16s64s128s"
MESSAGE = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 5: "ACK", 6: "NAK"}


def packet(kind, mac, xid, arch, user_class, ciaddr="0.0.0.0", boot_item=None):
    chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\0")
    flags = 0x8000 if ciaddr == "0.0.0.0" else 0  # no address yet: answer by broadcast
    head = struct.pack(HEADER, 1, 1, 6, 0, xid, 0, flags, socket.inet_aton(ciaddr), bytes(4), bytes(4),
                       bytes(4), chaddr, bytes(64), bytes(128))
    opts = [
        (53, bytes([kind])),
        (57, struct.pack("!H", 1260)),
        (93, struct.pack("!H", arch)),  # client system architecture
        (94, b"\x01\x02\x01"),  # network interface: UNDI 2.1
        (97, b"\0" + bytes(random.getrandbits(8) for _ in range(16))),  # client machine GUID
        (60, f"PXEClient:Arch:{arch:05d}:UNDI:002001".encode()),
        (55, bytes([1, 3, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135])),
    ]
    if user_class:
        opts.append((77, user_class.encode()))
        opts[6] = (55, opts[6][1] + bytes([175]))  # iPXE asks for its own options too
    if boot_item is not None:
        # PXE boot item (option 43, sub-option 71): the menu item's type, layer 0.
        opts.append((43, bytes([71, 4]) + struct.pack("!HH", boot_item, 0) + b"\xff"))
    body = b"".join(bytes([code, len(value)]) + value for code, value in opts)
    return head + MAGIC + body + b"\xff"


def tlv(data):
    out, i = {}, 0
    while i + 1 < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        out[data[i]] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return out


def parse(data):
    fields = struct.unpack(HEADER, data[:236])
    xid, yiaddr, siaddr, sname, file = fields[4], fields[8], fields[9], fields[12], fields[13]
    opts = tlv(data[240:]) if data[236:240] == MAGIC else {}
    pxe = tlv(opts.get(43, b""))
    text = lambda b: b.split(b"\0", 1)[0].decode("latin-1")
    ipxe = tlv(opts.get(175, b""))
    menu = pxe.get(9, b"")
    servers = pxe.get(8, b"")
    return {
        "message": MESSAGE.get(opts.get(53, b"\0")[0], "?"),
        "xid": xid,
        "yiaddr": socket.inet_ntoa(yiaddr),
        "siaddr": socket.inet_ntoa(siaddr),
        "sname": text(sname),
        # The boot file: the header's file field, or option 67 when the server sent it there.
        "file": text(file) or (opts[67].decode("latin-1").rstrip("\0") if 67 in opts else ""),
        "serverId": socket.inet_ntoa(opts[54]) if 54 in opts else None,
        "vendorClass": opts[60].decode("latin-1") if 60 in opts else None,
        # iPXE's no-pxedhcp (option 175, sub-option 176): do not wait for a ProxyDHCP offer.
        "noPxeDhcp": ipxe.get(176, b"\0") != b"\0",
        # The first menu item and the first boot server of that type (PXE 2.1, tables 2-1 and 2-2).
        "menu": {"type": struct.unpack("!H", menu[:2])[0], "text": menu[3:3 + menu[2]].decode("latin-1")}
        if len(menu) >= 3 else None,
        "bootServer": {"type": struct.unpack("!H", servers[:2])[0], "address": socket.inet_ntoa(servers[3:7])}
        if len(servers) >= 7 else None,
    }


def exchange(iface, port, request, to, xid, tries):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("0.0.0.0", port))
    try:
        for _ in range(tries):
            s.sendto(request, to)
            deadline = time.monotonic() + 1
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                try:
                    data, _ = s.recvfrom(2048)
                except socket.timeout:
                    break
                if len(data) >= 240 and data[0] == 2 and parse(data)["xid"] == xid:
                    return parse(data)
        return None
    finally:
        s.close()


def main(iface, mac, arch, ciaddr, user_class=""):
    arch = int(arch)
    xid = random.getrandbits(32)
    offer = exchange(iface, 68, packet(1, mac, xid, arch, user_class), ("255.255.255.255", 67), xid, 8)
    ack = None
    if offer and not offer["file"]:
        item = offer["menu"]["type"] if offer["menu"] else None
        server = offer["bootServer"]["address"] if offer["bootServer"] else offer["siaddr"]
        if server == "0.0.0.0":
            server = offer["serverId"]
        xid = random.getrandbits(32)
        request = packet(3, mac, xid, arch, user_class, ciaddr, item)
        ack = exchange(iface, 4011, request, (server, 4011), xid, 4)
    print(json.dumps({"offer": offer, "ack": ack}, sort_keys=True))
    sys.exit(0 if offer else 1)


if __name__ == "__main__":
    main(*sys.argv[1:])
