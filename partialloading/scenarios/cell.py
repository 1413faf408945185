"""The uplink radio model of one cell (3GPP TR 36.814 macro path loss): where users are dropped
and the SNR they get over their fair share of the band."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from partialloading.errors import ScenarioError


@dataclass(frozen=True)
class Cell:
    """Uplink radio model of one cell (3GPP TR 36.814 macro path loss).

    The frame model charges a user ``a_k / b_k`` seconds, i.e. a rate linear in its bandwidth
    ``b_k`` with a fixed spectral efficiency. That is exact when the user transmits at a fixed
    power spectral density, so its SNR does not depend on ``b_k``. We fix that density as the
    transmit power spread over the fair share ``B/K``: the SNR is computed with the noise over
    ``B/K`` Hz. A user granted more (less) than ``B/K`` then transmits proportionally more (less)
    power than ``tx_power_dbm``; at the fair share it transmits exactly ``tx_power_dbm``.

    Parameters
    ----------
    radius_m
        Cell radius (a small cell).
    min_distance_m
        Smallest user–base station distance.
    pathloss_db_at_1km, pathloss_exponent_db
        Path loss ``PL = a + b·log10(d/km)`` dB (TR 36.814 Table A.2.1.1.2-3: 128.1, 37.6).
    shadowing_db
        Standard deviation of the log-normal shadowing (TR 36.814: 8 dB).
    tx_power_dbm
        User transmit power (3GPP power class 3: 23 dBm).
    noise_psd_dbm_hz
        Thermal noise density at 290 K (−174 dBm/Hz).
    noise_figure_db
        Base-station receiver noise figure (TR 36.814: 5 dB; a UE receiver has 9 dB).
    max_snr_db
        Ceiling on the SNR: a transmitter meeting the 3.5 % EVM limit of 256-QAM (TS 38.101-1)
        cannot deliver much more than 29 dB, so close users do not get Shannon rates of 20+ bit/s/Hz.
    """

    radius_m: float = 250.0
    min_distance_m: float = 10.0
    pathloss_db_at_1km: float = 128.1
    pathloss_exponent_db: float = 37.6
    shadowing_db: float = 8.0
    tx_power_dbm: float = 23.0
    noise_psd_dbm_hz: float = -174.0
    noise_figure_db: float = 5.0
    max_snr_db: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.min_distance_m < self.radius_m:
            raise ScenarioError(f"need 0 < min_distance_m < radius_m (got {self.min_distance_m}, {self.radius_m})")
        if self.shadowing_db < 0:
            raise ScenarioError(f"shadowing_db must be non-negative (got {self.shadowing_db})")

    def distances(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` distances of users dropped uniformly in area in the annulus ``[min_distance_m, radius_m]``."""
        return np.sqrt(rng.uniform(self.min_distance_m**2, self.radius_m**2, n))

    def pathloss_db(self, distance_m: np.ndarray) -> np.ndarray:
        """Path loss in dB at ``distance_m`` metres."""
        return self.pathloss_db_at_1km + self.pathloss_exponent_db * np.log10(np.asarray(distance_m) / 1000.0)

    def snr_db(self, distance_m: np.ndarray, shadowing_db: np.ndarray, reference_bandwidth_hz: float) -> np.ndarray:
        """SNR in dB over ``reference_bandwidth_hz``, capped at :attr:`max_snr_db`."""
        noise_dbm = self.noise_psd_dbm_hz + 10.0 * math.log10(reference_bandwidth_hz) + self.noise_figure_db
        snr = self.tx_power_dbm - self.pathloss_db(distance_m) - shadowing_db - noise_dbm
        return np.minimum(snr, self.max_snr_db)
