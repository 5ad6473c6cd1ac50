# Runs GPU probe variants side by side on the device machine (from the repository root, with .probe/
# and .whl/ carried: the data of scripts/probe/prep.py and the tinygrad + soxr wheels for Python 3.12):
#   VARIANTS="same_win valid_win" EP=30 T=300 bash scripts/probe/go.sh
# Each variant's log goes to $OUT/VARIANT.log; the RESULT lines are printed at the end.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1
nvidia-smi -L
for be in "DEV=CUDA" "DEV=CUDA PTX=1" "DEV=NV"; do
  if env $be timeout 120 python3 -c "from tinygrad import Tensor, Device; print(Device.DEFAULT, (Tensor.ones(4)*2).sum().item())"; then BE="$be"; break; fi
done
echo "backend: $BE"; [ -z "$BE" ] && exit 4
export $BE
EP=${EP:-30}
for v in ${VARIANTS:-same_nowin same_win valid_nowin valid_win}; do
  timeout ${T:-470} python3 scripts/probe/run.py $v $EP > $OUT/$v.log 2>&1 &
done
wait
grep -h RESULT $OUT/*.log
for f in $OUT/*.log; do echo "== $f"; grep -v RESULT $f | tail -4; done
