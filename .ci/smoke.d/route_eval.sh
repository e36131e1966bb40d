# The routing evaluation and training in a short form (every 12th prompt, one fold, 60 steps: under a minute);
# it fails if a headline figure is missing or NaN. The data sits beside the checkout (../shared), as for training.
if python3 -c "from bench.router_v2 import data; raise SystemExit(0 if data.available() else 1)"; then
  python3 -m bench.route_eval --smoke --out /tmp/route_eval_smoke.json
else
  echo "route_eval smoke skipped: no routing data under ../shared/data/routing"
fi
