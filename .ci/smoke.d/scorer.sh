python3 bench/scorer_bench.py --quick
