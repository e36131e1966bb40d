python3 -m bench.route_speed --quick --min-speedup 20 --out /tmp/route_speed_quick.json
