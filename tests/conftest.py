import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def one_thread():
    """Small convolutions: a second intra-op thread only adds contention on a busy 2-core machine
    (measured 28x slower training with 2 threads under load).  Files of small trainings use it
    for every test (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request) -> str:
    """The device a test runs on: every test that takes this fixture runs on the CPU and again on
    CUDA, that second run marked ``gpu`` (so skipped without a GPU, and what ``pytest -m gpu`` and
    ``benchmarks/gpu_check.py`` select)."""
    return request.param


@pytest.fixture(autouse=True)
def _figures_to_tmp(tmp_path, monkeypatch):
    """No test writes into the committed figures/ folder."""
    monkeypatch.setenv("BLUR2VID_FIGURES", str(tmp_path / "figures"))


@pytest.fixture
def no_vgg_env(monkeypatch):
    """No VGG16 file named by the environment (``BLUR2VID_VGG16``), whatever the machine sets."""
    from blur2vid.models.vgg import VGG16_ENV_VAR

    monkeypatch.delenv(VGG16_ENV_VAR, raising=False)
