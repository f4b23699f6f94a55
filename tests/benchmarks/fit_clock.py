"""The training clock the training benchmarks share with Ray's rank 0 (``training.ray_train``): Lightning's
``on_fit_start`` to the end of the last epoch, validation included."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback


class Clock(Callback):
    start = end = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.end - self.start
