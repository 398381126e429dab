#!/usr/bin/env bash
# Everything a short GPU session measures, in one call: the CUDA-only tests (no host sync per step, device-resident
# data and views), `zoo bench` of the paper's ResNet-18 / 32 px step against the DataLoader peer, the speed-settings
# table, bf16 against fp32 at equal steps, and the torch.compile path. Each part has its own time limit, so one
# failure leaves the others' results; logs go to the folder given as the first argument.
#
#     bash benchmarks/gpu_session.sh results/          # on a machine with a CUDA GPU and zoo importable
#
# QUICK=1 shrinks every part to a few steps on the CPU: a check of the script itself, not a measurement.
# PARTS="bench compile" runs only the parts named; SEEDS="2 3" picks the accuracy runs' seeds.
set -u
out=${1:?usage: gpu_session.sh OUT_DIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
device=cuda steps=50 batch=512 rounds=2 epochs=15 seeds=${SEEDS:-0 1} compile_limit=240 fraction=1
if [ "${QUICK:-0}" = 1 ]; then
    device=cpu steps=2 batch=16 rounds=1 epochs=1 seeds=0 compile_limit=60 fraction=0.05
fi
cifar=(--set "run.device=$device" --set "schedule.batch_size=$batch")
small=(--set "run.device=$device" --set backbone.name=resnet18 --set backbone.small_stem=true
    --set "schedule.epochs=$epochs" --set "data.fraction=$fraction")

part() {  # part NAME LIMIT_S COMMAND...: run, append to OUT/NAME.log, report its exit status
    local name=$1 limit=$2
    shift 2
    [[ " ${PARTS:-$name} " == *" $name "* ]] || return 0
    local start=$SECONDS
    echo "\$ $*" >>"$out/$name.log"
    timeout "$limit" "$@" >>"$out/$name.log" 2>&1
    echo "== $name: exit $? in $((SECONDS - start)) s"
    tail -n 20 "$out/$name.log"
}

$py -c "import torch, zoo; print('torch', torch.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"
[ "$device" = cpu ] || nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader

part cuda_tests 200 $py -m pytest -q -rs -p no:cacheprovider tests/speed/test_no_host_sync.py tests/optim/test_lars.py \
    tests/data/test_device_loader.py tests/data/test_streaming_loader.py tests/augment/test_augment.py -k \
    "cuda or never_syncs or input_device"
part bench 150 $py -m zoo bench recipes/mi_binary_cifar10.toml --steps "$steps" "${cifar[@]}" \
    --json "$out/bench.json"
part speed_settings 150 $py benchmarks/speed_settings.py recipes/mi_binary_cifar10.toml --steps "$steps" \
    --rounds "$rounds" "${cifar[@]}"
for seed in $seeds; do
    part accuracy 150 $py benchmarks/speed_settings.py recipes/quickstart.toml --accuracy \
        --only fp32 "bf16 + channels_last" "${small[@]}" --set "run.seed=$seed"
done
part torchrun 90 $py -m torch.distributed.run --nproc_per_node=1 -m zoo train recipes/quickstart.toml \
    --set "run.device=$device" --set schedule.epochs=1 --set eval.linear_epochs=0 --set run.out_dir=/tmp/zoo-runs
part compile "$compile_limit" $py benchmarks/speed_settings.py recipes/mi_binary_cifar10.toml --steps "$steps" \
    --rounds 1 "${cifar[@]}" --only "bf16 + channels_last" "bf16 + channels_last + compile"
