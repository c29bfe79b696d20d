"""bench/step_syncs.py and bench/host_syncs.py: a side of the training-step benchmark (tiny sizes, in this process)
counts the engine's one read per iteration; the counter sees each kind of read a GPU would wait for."""
from pathlib import Path

import torch

import aitl_reid
from bench.host_syncs import count_host_syncs
from bench.step_syncs import CONFIGS, measure
from bench.timing import torch_threads


def test_a_side_of_the_step_benchmark_counts_one_read_per_iteration_in_this_tree():
    with torch_threads(1):  # as the benchmark's processes run: steadier on a shared CPU
        side = measure(CONFIGS["tiny"], torch.device("cpu"))
    assert side["plugin"] == str(Path(aitl_reid.__file__).parent)
    assert side["syncs_per_iteration"] == 1.0
    assert side["per_iteration_by_file"] == {"aitl_reid/distributed.py": 1.0}
    assert len(side["seconds_per_iteration"]) == CONFIGS["tiny"].timed_epochs
    assert all(seconds > 0 for seconds in side["seconds_per_iteration"])


def test_the_counter_sees_every_kind_of_read_and_nothing_else():
    x = torch.randn(6)
    with count_host_syncs() as syncs:
        x.sum().item()
        float(x.max())
        bool((x > 0).any())
        x.tolist()
        x.numpy()
        x[x > 0]
        (x > 0).nonzero()
        torch.unique(x)
        torch.equal(x, x)
        index = (x * 2).softmax(0).argmax()  # these stay on the device: no read
        torch.where(x > 0, x, 0.0).sum()
        x.masked_fill(x > 0, 0.0)
        x[index]  # a 0-dim tensor as an index is read as a Python int
    assert [operation.split(".")[1] if operation.startswith("aten") else operation for operation, _ in syncs.events] \
        == ["_local_scalar_dense"] * 3 + ["Tensor.tolist", "Tensor.numpy", "index", "nonzero", "_unique2", "equal",
                                          "_local_scalar_dense"]
    assert all(caller.startswith(__file__) for _, caller in syncs.events)
    assert "tolist" not in vars(torch.Tensor)  # the patched methods are gone again
