// The overrides of the matrix-product kernels (linear.wgsl, linear_blocked.wgsl):
// C[M][N] (= or +=) Σ_k A(m, k)·B(k, n), A(m, k) = a[m·A_SM + k·A_SK], B(k, n) = b[k·B_SK + n·B_SN];
// the includer declares WG.
override M: u32;
override N: u32;
override K: u32;
override A_SM: u32;
override A_SK: u32;
override B_SK: u32;
override B_SN: u32;
override ACCUMULATE: bool = false;
