/** A DARTS genotype using every op kind, and quick proxy flags, for the NDS CLI tests. */
export const GENOTYPE =
  "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('max_pool_3x3', 0), " +
  "('none', 2), ('avg_pool_3x3', 3), ('dil_conv_3x3', 1), ('skip_connect', 4), ('sep_conv_5x5', 2)], " +
  "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('skip_connect', 1), " +
  "('dil_conv_5x5', 2), ('none', 0), ('skip_connect', 3), ('avg_pool_3x3', 1), " +
  "('sep_conv_3x3', 4), ('skip_connect', 0)], reduce_concat=[2, 3, 4, 5])";

/** Two iterations on a batch of two. */
export const FAST = ["--iters", "2", "--batch", "2"];
