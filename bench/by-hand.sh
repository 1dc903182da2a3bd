#!/usr/bin/env bash
# The gateway-nat story done by hand with the docker CLI and iproute2, the
# baseline simlab is measured against (`make bench`). Same lab as
# scenarios/gateway-nat.yaml: sealed containers (--network none), veth pairs
# created by PID, one `docker exec` per command, `ping -c1 -W1` per check.
# Linux only (it needs the engine's kernel for `ip link ... netns PID`).
set -euo pipefail
P=${1:-bh$$}
IMG=ubuntu_with_basic_net
OPTS=(--network none --cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_ADMIN
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --security-opt systempaths=unconfined --label simlab.bench="$P")

cleanup() { docker rm -f $(docker ps -aq --filter label=simlab.bench="$P") >/dev/null 2>&1 || true; }
trap cleanup EXIT

run() { docker run -d --name "$P-$1" "${OPTS[@]}" "${@:2}" $IMG sleep infinity >/dev/null; }
run dh --sysctl net.ipv4.ip_forward=1
run ca --sysctl net.ipv4.ip_forward=1
run out --sysctl net.ipv4.ip_forward=0
run inet --sysctl net.ipv4.ip_forward=1
run sw
pid() { docker inspect -f '{{.State.Pid}}' "$P-$1"; }
DH=$(pid dh); CA=$(pid ca); OUT=$(pid out); INET=$(pid inet); SW=$(pid sw)

x() { docker exec "$P-$1" sh -c "$2"; }
expect_ping() {  # host, netns ('' for none), target, expected: 0 reply / non-zero otherwise
  local pre=""; [ -n "$2" ] && pre="ip netns exec $2"
  if docker exec -e LC_ALL=C "$P-$1" $pre ping -c1 -W1 "$3" >/dev/null 2>&1; then got=0; else got=1; fi
  [ "$got" = "$4" ] || { echo "unexpected ping result: $1 $2 -> $3" >&2; exit 1; }
}

# wires
x sw "ip link add br0 type bridge && ip link set br0 up"
i=0
for p in $DH $CA $OUT; do
  ip link add eth0 netns "$p" type veth peer name "p$i" netns "$SW"
  x sw "ip link set p$i master br0 && ip link set p$i up"; i=$((i+1))
done
ip link add eth1 netns "$DH" type veth peer name eth0 netns "$INET"
x dh "ip link set eth0 up && ip link set eth1 up && ip addr add 172.17.0.1/16 dev eth0 && ip addr add 192.0.2.1/30 dev eth1 && ip route add default via 192.0.2.2"
x dh "iptables -t nat -A POSTROUTING -s 172.17.0.0/16 -o eth1 -j MASQUERADE"
x ca "ip link set eth0 up && ip addr add 172.17.0.2/16 dev eth0 && ip route add default via 172.17.0.1"
x out "ip link set eth0 up && ip addr add 172.17.0.3/16 dev eth0 && ip route add default via 172.17.0.1"
x inet "ip link set eth0 up && ip addr add 192.0.2.2/30 dev eth0 && ip addr add 8.8.8.8/32 dev lo"

# the story, one command per docker exec
for c in "ip netns add red" "ip netns add blue" \
         "ip link add v-net-0 type bridge" "ip link set v-net-0 up" \
         "ip link add veth-red type veth peer name veth-red-br" \
         "ip link add veth-blue type veth peer name veth-blue-br" \
         "ip link set veth-red netns red" "ip link set veth-blue netns blue" \
         "ip link set veth-red-br master v-net-0" "ip link set veth-blue-br master v-net-0" \
         "ip link set veth-red-br up" "ip link set veth-blue-br up" \
         "ip -n red addr add 192.168.15.1/24 dev veth-red" \
         "ip netns exec blue ip addr add 192.168.15.2/24 dev veth-blue" \
         "ip -n red link set veth-red up" "ip -n blue link set veth-blue up"; do
  x ca "$c"
done
expect_ping ca red 192.168.15.2 0
expect_ping ca "" 192.168.15.2 1
x ca "ip addr add 192.168.15.5/24 dev v-net-0"
expect_ping ca "" 192.168.15.2 0
expect_ping ca red 172.17.0.3 1
x ca "ip netns exec red ip route add 172.17.0.0/16 via 192.168.15.5"
expect_ping ca red 172.17.0.3 1
x ca "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE"
expect_ping ca red 172.17.0.3 0
expect_ping ca red 8.8.8.8 1
x ca "ip netns exec red ip route add default via 192.168.15.5"
expect_ping ca red 8.8.8.8 0
echo "by-hand gateway-nat: all checks as expected"
