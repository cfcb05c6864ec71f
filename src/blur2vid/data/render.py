"""The renderer of the procedural scenes: scene parameters -> blurry image and sharp frames.

Every per-instant map from output pixels to something (texture coordinates, sprite-local
coordinates) is affine, ``f = a X + b Y + c`` with ``X, Y`` pixel centres measured from the image
centre; the maps are stored as coefficient tensors ``[..., 3]`` and expanded to pixels with one
broadcast add (:func:`_expand`).  The layers are composited front to back (the top sprite first),
keeping the transmittance ``T`` of what is above, so a sprite's texture is sampled only where it
is visible and the background is weighted by what the sprites leave of it; the result equals
painter's-order "over" compositing.  Compositing happens in linear irradiance: the atlas holds
``g^-1`` of the textures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from blur2vid.data.textures import TEXTURE_NAMES, _atlas, _device_key, _linear_atlas_on, texture_size_for
from blur2vid.formation import average_subframes, get_crf, synthesize_blur

if TYPE_CHECKING:
    from blur2vid.data.scenes import SceneConfig

__all__ = ["instant_times", "frame_times", "render_params"]


def instant_times(config: SceneConfig) -> torch.Tensor:
    """Mid-times of the ``n_frames * subframes`` rendered instants, in ``(-1/2, 1/2)``."""
    n = config.n_instants
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5


def frame_times(config: SceneConfig) -> torch.Tensor:
    """Mid-times of the sharp frames; the middle one (odd ``n_frames``) is ``t = 0``."""
    n = config.n_frames
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5


_CPU_CHUNK_PIXELS = 1 << 20  # pixels x instants per chunk of scenes on the CPU (keeps data in cache)


def _expand(coef: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Affine maps ``coef [..., 3]`` evaluated at every pixel: ``[..., H, W]``."""
    a, b, c = coef[..., 0, None, None], coef[..., 1, None, None], coef[..., 2, None, None]
    return torch.add(a * xs, b * ys + c, out=out)


def _texture_norm(size: int) -> tuple[float, float]:
    """``(scale, shift)`` taking texture pixel coordinates (pixel centres ``0 .. S-1``) to the
    normalised coordinates of ``grid_sample`` with ``align_corners=False``."""
    return 2.0 / size, 1.0 / size - 1.0


def _to_atlas(grid: torch.Tensor, index: torch.Tensor, k_tex: int, size: int) -> torch.Tensor:
    """Texture-normalised lookups ``grid [..., 2]`` of textures ``index`` (broadcast against
    ``grid[..., 0]``) -> normalised atlas coordinates, in place.  Lookups are first clamped to
    their own texture (border padding), so none bleeds into a neighbour in the atlas."""
    bound = 1.0 - 1.0 / size
    grid.clamp_(-bound, bound)
    gx = grid[..., 0]
    # atlas x = (x + 1 + 2 index) / K - 1
    torch.add((1.0 + 2.0 * index.to(grid.dtype)) / k_tex - 1.0, gx, alpha=1.0 / k_tex, out=gx)
    return grid


def _sample(atlas: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear lookups of the atlas ``[3, 1, S, K*S]`` at ``grid [M, 2]`` (atlas coordinates):
    ``[3, M]``."""
    g = grid.view(1, 1, -1, 2).expand(3, 1, -1, 2)
    return F.grid_sample(atlas, g, align_corners=False).view(3, -1)


def _render_chunk(config: SceneConfig, p: dict, atlas: torch.Tensor, size: int, k_tex: int) -> torch.Tensor:
    """Linear irradiance of every instant: ``[3, B, N, H, W]``."""
    device = atlas.device
    h, w, n_t = config.height, config.width, config.n_instants
    b = p["bg_texture"].shape[0]
    per_scene = n_t * h * w
    t = instant_times(config).to(device=device, dtype=torch.float32)  # [N]
    xs = torch.arange(w, device=device, dtype=torch.float32) + (0.5 - w / 2)
    ys = (torch.arange(h, device=device, dtype=torch.float32) + (0.5 - h / 2))[:, None]
    half_tex = (size - 1) / 2

    trans = None  # transmittance of the sprites above, [B, N*H*W]; None while it is all ones
    layers = []  # (flat pixel indices, weighted colours [3, M]) of each sprite slot

    # --- sprites, top (last slot) first ---
    present = p["sprite_present"]
    for k in reversed(range(present.shape[1])):
        scenes = present[:, k].nonzero().squeeze(1)
        n = scenes.numel()
        if n == 0:
            continue
        full = n == b

        def pick(name, k=k, scenes=scenes, full=full):
            v = p[name][:, k]
            return v if full else v[scenes]

        bx, by = pick("sprite_half").unbind(-1)
        cx = torch.minimum(torch.clamp_min(pick("sprite_corner") * bx, 1.0), bx)
        cy = torch.minimum(torch.clamp_min(pick("sprite_corner") * by, 1.0), by)
        ang = pick("sprite_angle")[:, None] + pick("sprite_spin")[:, None] * t  # [n, N]
        pos = pick("sprite_position")[:, None] + pick("sprite_velocity")[:, None] * t[:, None]
        pos = pos + pick("sprite_accel")[:, None] * (0.5 * t * t)[:, None]  # [n, N, 2]
        cos, sin = torch.cos(ang), torch.sin(ang)
        px, py = pos.unbind(-1)
        # local = R(-theta) (X - p): lx = cos X + sin Y - (cos px + sin py); ly = -sin X + cos Y + (sin px - cos py)
        lmap = torch.stack(
            [torch.stack([cos, sin, -(cos * px + sin * py)], -1), torch.stack([-sin, cos, sin * px - cos * py], -1)], -2
        )  # [n, N, 2, 3]
        # texture coordinates u = centre + z * local, normalised per texture
        z = pick("sprite_tex_scale")
        t_scale, t_shift = _texture_norm(size)
        gmap = lmap * (t_scale * z)[:, None, None, None]
        gmap[..., 2] += ((half_tex + pick("sprite_tex_offset")) * t_scale + t_shift)[:, None]
        grid = torch.empty(n, n_t, h, w, 2, device=device)
        _expand(gmap[..., 0, :], xs, ys, out=grid[..., 0])
        _expand(gmap[..., 1, :], xs, ys, out=grid[..., 1])

        # coverage of a rounded rectangle with elliptical corners (radii cx, cy), inner half-extent
        # (bx - cx, by - cy): with m = (max(|lx| - (bx - cx), 0) / cx, same for y), the shape is
        # e = |m|^2 - 1 <= 0 and d = e / |grad e| its first-order signed distance in pixels.
        def edge(coef, c, inner):
            m = _expand(coef / c[:, None, None], xs, ys)
            return m.abs_().sub_(inner[:, None, None, None]).clamp_min_(0.0)

        mx, my = edge(lmap[..., 0, :], cx, bx / cx - 1), edge(lmap[..., 1, :], cy, by / cy - 1)
        e = (mx * mx).addcmul_(my, my).sub_(1.0)
        grad = torch.hypot(mx.mul_((2 / cx)[:, None, None, None]), my.mul_((2 / cy)[:, None, None, None]))
        neg_alpha = e.div_(grad).sub_(0.5).clamp_(-1.0, 0.0).view(n, per_scene)  # -clamp(1/2 - d, 0, 1)
        del mx, my, grad

        if trans is None and full:  # top layer over everything: weight alpha, T = 1 - alpha
            neg_w = neg_alpha
            trans = neg_alpha + 1.0
        else:
            if trans is None:
                trans = torch.ones(b, per_scene, device=device)
            tr = trans if full else trans[scenes]
            neg_w = neg_alpha.mul_(tr)  # -(alpha * T): this sprite's visible weight
            tr.add_(neg_w)  # T <- T (1 - alpha)
            if not full:
                trans[scenes] = tr
        idx = (neg_w.view(-1) != 0).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        row = torch.div(idx, per_scene, rounding_mode="floor")  # which sprite of the slot
        lookup = _to_atlas(grid.view(-1, 2).index_select(0, idx), (pick("sprite_texture") % k_tex)[row], k_tex, size)
        colour = _sample(atlas, lookup)  # [3, M]
        colour.mul_(neg_w.view(-1).index_select(0, idx).neg_()).mul_(pick("sprite_tint").t().index_select(1, row))
        if not full:
            idx = idx + (scenes.index_select(0, row) - row) * per_scene
        layers.append((idx, colour))

    # --- background: tex = centre + z(t) R(phi) (X - v t) ---
    zoom = p["bg_scale"][:, None] * torch.exp(-p["zoom_rate"][:, None] * t)  # [B, N]
    cos, sin = torch.cos(p["bg_angle"])[:, None], torch.sin(p["bg_angle"])[:, None]
    mx, my = (p["pan_velocity"][:, None] * t[:, None]).unbind(-1)  # camera displacement [B, N]
    t_scale, t_shift = _texture_norm(size)
    cen = (half_tex + p["bg_offset"]) * t_scale + t_shift  # [B, 2]
    zs = zoom * t_scale
    gmap = torch.stack(
        [
            torch.stack([zs * cos, -zs * sin, cen[:, 0:1] - zs * (cos * mx - sin * my)], -1),
            torch.stack([zs * sin, zs * cos, cen[:, 1:2] - zs * (sin * mx + cos * my)], -1),
        ],
        -2,
    )  # [B, N, 2, 3]
    grid = torch.empty(b, n_t, h, w, 2, device=device)
    _expand(gmap[..., 0, :], xs, ys, out=grid[..., 0])
    _expand(gmap[..., 1, :], xs, ys, out=grid[..., 1])
    _to_atlas(grid, (p["bg_texture"] % k_tex)[:, None, None, None], k_tex, size)
    background = _sample(atlas, grid.view(-1, 2)).view(3, b, per_scene)
    if trans is not None:
        background.mul_(trans)
    background.mul_(p["bg_tint"].t()[..., None])
    acc = background.view(3, -1)
    for idx, colour in layers:
        acc.index_add_(1, idx, colour)
    return acc.view(3, b, n_t, h, w)


def render_params(
    config: SceneConfig,
    params: dict[str, torch.Tensor],
    device="cpu",
    textures: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render the scenes described by ``params`` (as from :func:`sample_params`), without noise.

    ``n_frames * subframes`` instants are rendered in linear irradiance, averaged in groups of
    ``subframes`` into the sharp frames (Jin Eq. 2, :func:`~blur2vid.formation.average_subframes`
    in linear space) and the frames into the blur (Jin Eq. 1,
    :func:`~blur2vid.formation.synthesize_blur`), both through the camera response ``config.crf``,
    so ``blur == synthesize_blur(frames, config.crf)`` up to float rounding.  Returns
    ``(blur [B, 3, H, W], frames [B, n_frames, 3, H, W])``, camera intensities in ``[0, 1]``.

    ``textures`` (``[K, 3, S, S]`` intensities in ``[0, 1]``) replaces the built-in bank; texture
    indices are taken modulo ``K``.
    """
    device = _device_key(device)
    crf = get_crf(config.crf)
    with torch.no_grad():
        if textures is None:
            size, k_tex = texture_size_for(config), len(TEXTURE_NAMES)
            atlas = _linear_atlas_on(size, device, crf)
        else:
            if textures.ndim != 4 or textures.shape[1] != 3 or textures.shape[2] != textures.shape[3]:
                raise ValueError(f"textures must have shape [K, 3, S, S], got {tuple(textures.shape)}")
            size, k_tex = textures.shape[-1], textures.shape[0]
            atlas = _atlas(crf.inverse(textures.to(device=device, dtype=torch.float32)))
        b = params["bg_texture"].shape[0]
        per_scene = config.n_instants * config.height * config.width
        chunk = b if device.type != "cpu" else max(1, _CPU_CHUNK_PIXELS // per_scene)
        frames = []
        for s0 in range(0, b, chunk):
            part = {k: v[s0 : s0 + chunk].to(device) for k, v in params.items()}
            linear = _render_chunk(config, part, atlas, size, k_tex).permute(1, 2, 0, 3, 4)  # [b, N, 3, H, W]
            frames.append(average_subframes(linear, config.subframes, "linear"))  # Jin Eq. 2
        linear_frames = torch.cat(frames) if len(frames) > 1 else frames[0]
        blur = crf(synthesize_blur(linear_frames, "linear"))  # Jin Eq. 1: g(mean of irradiance)
        return blur, crf(linear_frames).contiguous()
