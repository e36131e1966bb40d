python3 -m bench.route_speed --quick --out /tmp/route_speed_quick.json
