"""The learnt usual value of a series per hour of the week."""

from __future__ import annotations


class RobustBaseline:
    """A learnt usual value per hour of the week, robust to outliers; O(1) memory.

    48 slots (weekday/weekend x 24 hours) plus one global slot each hold a
    count, a location and a scale, updated by a clipped exponentially-weighted
    rule: residuals are clipped at 3 scales and points beyond ``outlier_z``
    learn at a tenth of the rate, so a spike or an ongoing incident barely
    moves the baseline. A slot judges nothing until ``warmup`` points.
    """

    GLOBAL = 48
    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[int, list[float]] = {}

    @staticmethod
    def slot(weekend: bool, hour: int) -> int:
        """Slot index of a local hour of a weekday or weekend day."""
        return (24 if weekend else 0) + hour

    def expected(self, slot: int, warmup: int, *, allow_global: bool) -> tuple[float, float] | None:
        """(location, scale) of a warm slot, falling back to the weekday slot, then global."""
        candidates = [slot]
        if slot >= 24:
            candidates.append(slot - 24)
        if allow_global:
            candidates.append(self.GLOBAL)
        for index in candidates:
            entry = self._slots.get(index)
            if entry is not None and entry[0] >= warmup and (index == self.GLOBAL or entry[4] >= 2):
                return entry[1], entry[2]
        return None

    def band(self, slot: int, warmup: int) -> tuple[float, float] | None:
        """Lowest and highest usual value of this hour and the hours either side.

        Comparing against the neighbours too tolerates profiles that change
        sharply within an hour (a rush hour starting at 07:00 or 07:20). None
        until the slot (or, for weekends, the weekday slot) is warm.
        """
        slots = self._slots
        own = slots.get(slot)
        if own is None or own[0] < warmup or own[4] < 2:
            if slot < 24:
                return None
            slot -= 24
            own = slots.get(slot)
            if own is None or own[0] < warmup or own[4] < 2:
                return None
        block = 24 if slot >= 24 else 0
        hour = slot - block
        low = high = own[1]
        for index in (block + (hour - 1) % 24, block + (hour + 1) % 24):
            entry = slots.get(index)
            if entry is not None and entry[0] >= warmup and entry[4] >= 2:
                loc = entry[1]
                low = min(low, loc)
                high = max(high, loc)
        return low, high

    def _warm(self, index: int, warmup: int) -> bool:
        entry = self._slots.get(index)
        return entry is not None and entry[0] >= warmup

    def update(
        self,
        slot: int,
        value: float,
        min_rate: float,
        outlier_z: float,
        *,
        with_global: bool,
        day: int,
    ) -> None:
        """Learn one value into its slot (and the global slot when asked).

        ``day`` (any day number) lets a slot count the distinct days it has
        seen: an hour's "usual" value needs at least two of them.
        """
        for index in (slot, self.GLOBAL) if with_global else (slot,):
            entry = self._slots.get(index)
            if entry is None:
                self._slots[index] = [1.0, value, abs(value) * 0.05 + 1e-9, float(day), 1.0]
                continue
            if day != entry[3]:
                entry[3] = float(day)
                entry[4] += 1.0
            count, loc, scale = entry[0], entry[1], entry[2]
            rate = max(1.0 / (count + 1.0), min_rate)
            residual = value - loc
            if abs(residual) > outlier_z * scale and count >= 3:
                rate *= 0.1
            clipped = max(-3.0 * scale, min(3.0 * scale, residual))
            loc += rate * clipped
            # Mean absolute deviation of clipped residuals, x1.25 ~ a standard deviation.
            scale += rate * (1.25 * abs(clipped) - scale)
            entry[0] = count + 1.0
            entry[1] = loc
            entry[2] = max(scale, abs(loc) * 0.01, 1e-9)

    def snapshot(self) -> dict[str, list[float]]:
        """Plain data for persistence."""
        return {str(k): list(v) for k, v in self._slots.items()}

    @classmethod
    def restore(cls, data: dict[str, list[float]]) -> RobustBaseline:
        """Rebuild from :meth:`snapshot`."""
        baseline = cls()
        baseline._slots = {int(k): list(v) for k, v in data.items()}
        return baseline
