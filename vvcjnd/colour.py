"""Colour conversions: RGB <-> Y'CbCr 4:2:0 for the codecs, and luma for the JND model.

One conversion serves every encoder, so only the codec differs between them. Planes are
numpy arrays; RGB is uint8 0..255 (H, W, 3); Y'CbCr samples are integers 0..2**bit_depth-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vvcjnd.errors import VvcjndError

# Kr, Kb of each matrix (Y' = Kr R' + (1 - Kr - Kb) G' + Kb B').
MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}

# MATLAB rgb2gray weights, as the authors' patch model uses them.
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luma of uint8 RGB (H, W, 3) with MATLAB ``rgb2gray`` weights, float64 0..255 (unrounded)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise VvcjndError(f"expected an RGB image of shape (H, W, 3), got {rgb.shape}")
    return rgb.astype(np.float64) @ GRAY_WEIGHTS


# The luma weights as integers in units of 1 / _GRAY_SCALE (exact: they have four decimals).
_GRAY_SCALE = 10_000
_GRAY_WEIGHTS_1E4 = tuple(int(weight) for weight in np.rint(GRAY_WEIGHTS * _GRAY_SCALE))


def luma_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` luma of uint8 RGB (H, W, 3) as uint8 0..255 (H, W), rounded half up;
    a uint8 gray image (H, W) is already luma and is returned as it is.

    Computed exactly in integers: (2989 R + 5870 G + 1140 B + 5000) // 10000, the weights being
    :data:`GRAY_WEIGHTS` in units of 1e-4. This equals
    ``floor(rgb_to_gray(rgb) + 0.5)`` except where the exact sum ends in .5, which floating point
    rounds either way by its own error (about 1 pixel in 60,000 of a photograph); the integer
    form gives the same bytes on every machine, and is faster.
    """
    if rgb.ndim == 2 and rgb.dtype == np.uint8:
        return rgb
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise VvcjndError(f"expected uint8 RGB of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    luma = np.zeros(rgb.shape[:2], dtype=np.int32)
    for channel, weight in enumerate(_GRAY_WEIGHTS_1E4):
        luma += np.multiply(rgb[..., channel], weight, dtype=np.int32)
    luma += _GRAY_SCALE // 2
    luma //= _GRAY_SCALE
    return luma.astype(np.uint8)


@dataclass(frozen=True)
class YuvFormat:
    """How RGB maps to Y'CbCr 4:2:0 samples: matrix, range, chroma filters and bit depth."""

    matrix: str = "bt709"
    range: str = "limited"
    chroma_downsample: str = "average"
    chroma_upsample: str = "bilinear"
    bit_depth: int = 10

    @classmethod
    def from_config(cls, colour: dict) -> YuvFormat:
        return cls(**colour)

    @property
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def dtype(self) -> type:
        return np.uint8 if self.bit_depth == 8 else np.uint16

    def _scales(self) -> tuple[float, float, float]:
        """(luma offset, luma span, chroma span) in sample units."""
        unit = 1 << (self.bit_depth - 8)
        if self.range == "limited":
            return 16.0 * unit, 219.0 * unit, 224.0 * unit
        return 0.0, float(self.max_value), float(self.max_value)

    def _unit_planes(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R, B, Y') of uint8 RGB on the 0..1 scale, float64."""
        kr, kb = MATRICES[self.matrix]
        r, g, b = (rgb[..., i].astype(np.float64) / 255.0 for i in range(3))
        return r, b, kr * r + (1.0 - kr - kb) * g + kb * b

    def luma(self, rgb: np.ndarray) -> np.ndarray:
        """The Y plane of :meth:`rgb_to_yuv` alone, the same samples (for the PSNR-Y of a codec
        that decodes to RGB)."""
        offset, y_span, _ = self._scales()
        return self._quantise(offset + y_span * self._unit_planes(rgb)[2])

    def rgb_to_yuv(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 RGB (H, W, 3), H and W even -> (Y (H, W), Cb, Cr (H/2, W/2)) integer samples."""
        height, width = rgb.shape[:2]
        if height % 2 or width % 2:
            raise VvcjndError(f"4:2:0 needs even width and height, got {width}x{height}")
        kr, kb = MATRICES[self.matrix]
        r, b, y = self._unit_planes(rgb)
        cb = (b - y) / (2.0 * (1.0 - kb))
        cr = (r - y) / (2.0 * (1.0 - kr))
        cb, cr = (self._downsample(plane) for plane in (cb, cr))
        offset, y_span, c_span = self._scales()
        mid = float(1 << (self.bit_depth - 1))
        return (
            self._quantise(offset + y_span * y),
            self._quantise(mid + c_span * cb),
            self._quantise(mid + c_span * cr),
        )

    def yuv_to_rgb(self, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
        """Integer Y'CbCr 4:2:0 planes -> uint8 RGB (H, W, 3), rounded and clipped to 0..255.

        Computed in float32 on the 0..255 scale (ample for 10-bit samples: its rounding error
        is about 1e-5 of a level, so only exact ties can round the other way).
        """
        kr, kb = MATRICES[self.matrix]
        offset, y_span, c_span = self._scales()
        mid = float(1 << (self.bit_depth - 1))
        f32 = np.float32
        luma = (y.astype(f32) - f32(offset)) * f32(255.0 / y_span)
        cb_full, cr_full = (
            self._upsample((plane.astype(f32) - f32(mid)) * f32(255.0 / c_span), y.shape)
            for plane in (cb, cr)
        )
        cr_to_r, cb_to_b = 2.0 * (1.0 - kr), 2.0 * (1.0 - kb)
        kg = 1.0 - kr - kb
        rgb = np.empty((*y.shape, 3), dtype=f32)
        np.add(luma, f32(cr_to_r) * cr_full, out=rgb[..., 0])
        np.subtract(
            luma,
            f32(kr * cr_to_r / kg) * cr_full + f32(kb * cb_to_b / kg) * cb_full,
            out=rgb[..., 1],
        )
        np.add(luma, f32(cb_to_b) * cb_full, out=rgb[..., 2])
        np.rint(rgb, out=rgb)
        np.clip(rgb, 0, 255, out=rgb)
        return rgb.astype(np.uint8)

    def _quantise(self, plane: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(plane), 0, self.max_value).astype(self.dtype)

    def _downsample(self, plane: np.ndarray) -> np.ndarray:
        if self.chroma_downsample == "drop":
            return plane[::2, ::2]
        height, width = plane.shape
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    def _upsample(self, plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        if self.chroma_upsample == "nearest":
            upsampled = plane.repeat(2, axis=0).repeat(2, axis=1)
        else:
            upsampled = _bilinear_2x(_bilinear_2x(plane, 0), 1)
        return upsampled[: shape[0], : shape[1]]

    # -- raw planar files ---------------------------------------------------------------

    def to_bytes(self, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> bytes:
        """Planar 4:2:0 file bytes (yuv420p for 8 bits, yuv420p10le for 10 bits)."""
        little = np.dtype(self.dtype).newbyteorder("<")
        return b"".join(p.astype(little).tobytes() for p in (y, cb, cr))

    def from_bytes(self, data: bytes, width: int, height: int):
        """Parse one planar 4:2:0 frame of ``width`` x ``height``; raise if the size is wrong."""
        little = np.dtype(self.dtype).newbyteorder("<")
        luma, chroma = width * height, (width // 2) * (height // 2)
        expected = (luma + 2 * chroma) * little.itemsize
        if len(data) < expected:
            raise VvcjndError(
                f"decoded YUV holds {len(data)} bytes, expected {expected} for one "
                f"{width}x{height} {self.bit_depth}-bit 4:2:0 frame"
            )
        samples = np.frombuffer(data[:expected], dtype=little).astype(self.dtype)
        y = samples[:luma].reshape(height, width)
        cb = samples[luma : luma + chroma].reshape(height // 2, width // 2)
        cr = samples[luma + chroma :].reshape(height // 2, width // 2)
        return y, cb, cr


def _bilinear_2x(plane: np.ndarray, axis: int) -> np.ndarray:
    """2x centre-sited linear upsampling of ``plane`` along ``axis``, edge samples repeated.

    Output sample 2i sits a quarter step before input sample i and 2i + 1 a quarter step after
    it, so they are 0.25 x[i-1] + 0.75 x[i] and 0.75 x[i] + 0.25 x[i+1].
    """
    x = np.moveaxis(plane, axis, 0)
    before = np.concatenate([x[:1], x[:-1]])
    after = np.concatenate([x[1:], x[-1:]])
    out = np.empty((2 * x.shape[0], *x.shape[1:]), dtype=plane.dtype)
    out[0::2] = 0.25 * before + 0.75 * x
    out[1::2] = 0.75 * x + 0.25 * after
    return np.moveaxis(out, 0, axis)
