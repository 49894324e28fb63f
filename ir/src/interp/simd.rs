//! Runtime CPU-feature dispatch for the interpreter's hot loops.
//!
//! The crate is compiled for baseline x86-64 (SSE2). The kernels are written once, in safe
//! Rust, generic over a [`Madd`] flavour and marked `#[inline(always)]`; this module
//! instantiates each one a second time inside a `#[target_feature(enable = "avx2,fma")]`
//! function, where LLVM vectorizes the inlined body with 256-bit registers and fused
//! multiply-adds, and picks that instance at run time when the CPU has both features.
//!
//! Calling a `#[target_feature]` function is `unsafe`; the only precondition is that the CPU
//! supports the features, which [`avx2_fma`] checks first. This (and `sgemm.rs`) are the only
//! modules allowed `unsafe`. Results of the two instances may differ in the last bits
//! (fused vs separate rounding), never in structure.
#![allow(unsafe_code)]

/// How a kernel computes `a * b + c`.
pub(crate) trait Madd: Copy {
    /// `a * b + c`.
    fn madd(a: f32, b: f32, c: f32) -> f32;
}

/// One rounding (`vfmadd`); only used inside `avx2,fma` functions, where it is an
/// instruction (elsewhere `mul_add` is a slow libm call).
#[derive(Clone, Copy)]
pub(crate) struct Fused;

impl Madd for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// A multiply then an add (two roundings): the portable flavour.
#[derive(Clone, Copy)]
pub(crate) struct Separate;

impl Madd for Separate {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

#[cfg(test)]
thread_local! {
    /// Set by [`with_portable`]: the dispatchers pick the portable instances.
    static FORCE_PORTABLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set by [`with_avx2`]: AVX-512 counts as absent.
    static FORCE_NO_AVX512: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every dispatcher of this thread forced onto the portable instance, so that
/// tests cover both instances on any CPU.
#[cfg(test)]
pub(crate) fn with_portable<R>(f: impl FnOnce() -> R) -> R {
    FORCE_PORTABLE.set(true);
    let r = f();
    FORCE_PORTABLE.set(false);
    r
}

/// Runs `f` with AVX-512 treated as absent (the AVX2 instances run where the CPU has them).
#[cfg(test)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    FORCE_NO_AVX512.set(true);
    let r = f();
    FORCE_NO_AVX512.set(false);
    r
}

/// Whether the CPU has AVX-512F (the convolution GEMM's widest kernel).
#[inline]
pub(crate) fn avx512f() -> bool {
    #[cfg(test)]
    if FORCE_PORTABLE.get() || FORCE_NO_AVX512.get() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has AVX2 and FMA (the detection result is cached by std).
#[inline]
pub(crate) fn avx2_fma() -> bool {
    #[cfg(test)]
    if FORCE_PORTABLE.get() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `pub(crate) fn $name(args) -> ret` that runs `$kernel::<Fused>` compiled for
/// AVX2+FMA when the CPU has them, and `$kernel::<Separate>` otherwise. With `plain`, the
/// kernel is not generic (it has no multiply-adds) and only its code generation differs.
/// With `wide`, a third instance compiled for AVX-512F (512-bit vectors) runs first when
/// the CPU has it.
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $($kernel:ident)::+;) => {
        dispatch!(@emit $(#[$doc])* fn $name($($arg: $ty),*) $(-> $ret)?;
            fast = $($kernel)::+::<Fused>; portable = $($kernel)::+::<Separate>);
    };
    ($(#[$doc:meta])* wide fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $($kernel:ident)::+;) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) $(-> $ret)? {
                    $($kernel)::+::<Fused>($($arg),*)
                }
                if avx512f() && avx2_fma() {
                    // SAFETY: `wide` only requires the avx512f, avx2 and fma target
                    // features, which `avx512f` and `avx2_fma` just detected on this CPU.
                    return unsafe { wide($($arg),*) };
                }
            }
            dispatch!(@body fn($($arg),*); fast = $($kernel)::+::<Fused>;
                portable = $($kernel)::+::<Separate>; types = $($ty),*; $(ret = $ret)?)
        }
    };
    (@body fn($($arg:ident),*); fast = $fast:path; portable = $portable:path; types = $($ty:ty),*; $(ret = $ret:ty)?) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn fast($($arg: $ty),*) $(-> $ret)? {
                $fast($($arg),*)
            }
            if avx2_fma() {
                // SAFETY: `fast` only requires the avx2 and fma target features, which
                // `avx2_fma` just detected on this CPU.
                return unsafe { fast($($arg),*) };
            }
        }
        $portable($($arg),*)
    }};
    ($(#[$doc:meta])* plain fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $($kernel:ident)::+;) => {
        dispatch!(@emit $(#[$doc])* fn $name($($arg: $ty),*) $(-> $ret)?;
            fast = $($kernel)::+; portable = $($kernel)::+);
    };
    (@emit $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;
        fast = $fast:path; portable = $portable:path) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn fast($($arg: $ty),*) $(-> $ret)? {
                    $fast($($arg),*)
                }
                if avx2_fma() {
                    // SAFETY: `fast` only requires the avx2 and fma target features, which
                    // `avx2_fma` just detected on this CPU.
                    return unsafe { fast($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}

dispatch! {
    /// A depthwise convolution: see [`super::depthwise::conv_planes`].
    wide fn depthwise_conv(
        geo: &super::conv::Geom,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        clamp: Option<super::convgemm::Clamp>,
        y: &mut [f32],
    ) = super::depthwise::conv_planes;
}

dispatch! {
    /// A unary elementwise op in place: see [`super::elementwise::unary_apply`].
    fn unary_apply(op: &crate::ops::Op, v: &mut [f32]) -> bool = super::elementwise::unary_apply;
}
