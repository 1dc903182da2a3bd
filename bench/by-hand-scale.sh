#!/usr/bin/env bash
# The fastest by-hand way to build a chain or a star of N hosts, the baseline of
# bench/scale: `docker run --network none` 8 at a time with the docker CLI, then
# veths made straight from the host (`ip link add ... netns PID`) and addresses
# set with one `nsenter ... ip -batch -` per namespace. Linux as root only.
#   by-hand-scale.sh chain|star N PREFIX up|down
set -euo pipefail
SHAPE=$1 N=$2 P=$3 ACTION=$4
IMG=ubuntu_with_basic_net
OPTS=(--network none --cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_ADMIN
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --security-opt systempaths=unconfined --sysctl net.ipv4.ip_forward=0 --label simlab.bench="$P")

if [ "$ACTION" = down ]; then
  ids=$(docker ps -aq --filter label=simlab.bench="$P")
  [ -z "$ids" ] || echo "$ids" | xargs -P8 -n $(( (N + 8) / 8 )) docker rm -f >/dev/null
  exit 0
fi

names=$(seq 0 $((N - 1)) | sed "s/^/$P-h/")
[ "$SHAPE" = star ] && names="$names $P-sw"
echo $names | tr ' ' '\n' | xargs -P8 -I{} docker run -d --name {} --hostname {} "${OPTS[@]}" $IMG sleep infinity >/dev/null
declare -A PID
while read -r name pid; do PID[${name#/}]=$pid; done < <(docker inspect -f '{{.Name}} {{.State.Pid}}' $names)

ip4() { local n=$1; echo "$2.$(( (n >> 16) & 255 )).$(( (n >> 8) & 255 )).$(( n & 255 ))"; }
if [ "$SHAPE" = chain ]; then
  for ((i = 0; i < N - 1; i++)); do
    ip link add eth1 netns "${PID[$P-h$i]}" type veth peer name eth0 netns "${PID[$P-h$((i + 1))]}"
  done
  for ((i = 0; i < N; i++)); do
    { echo "link set lo up"
      if ((i > 0)); then echo "link set eth0 up"; echo "addr add $(ip4 $(( (i - 1) * 4 + 2 )) 10)/30 dev eth0"; fi
      if ((i < N - 1)); then echo "link set eth1 up"; echo "addr add $(ip4 $(( i * 4 + 1 )) 10)/30 dev eth1"; fi
    } | nsenter -t "${PID[$P-h$i]}" -n ip -batch -
  done
else
  SW=${PID[$P-sw]}
  for ((i = 0; i < N; i++)); do
    ip link add eth0 netns "${PID[$P-h$i]}" type veth peer name "p$i" netns "$SW"
  done
  { echo "link add br0 type bridge"; echo "link set br0 up"
    for ((i = 0; i < N; i++)); do echo "link set p$i master br0 up"; done
  } | nsenter -t "$SW" -n ip -batch -
  for ((i = 0; i < N; i++)); do
    printf 'link set lo up\nlink set eth0 up\naddr add %s/16 dev eth0\n' "$(ip4 $(( 65536 + i + 1 )) 10)" \
      | nsenter -t "${PID[$P-h$i]}" -n ip -batch -
  done
fi
