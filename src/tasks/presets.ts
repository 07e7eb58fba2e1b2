/**
 * Named task presets: the CNN configs of the reference configs.py (GENNAS_SPEC §3.2, values
 * verbatim, including numpy arange artefacts such as 1.0999999999999999) and GenNAS-single, which
 * has no preset in the reference. `resolveTask` accepts a preset name or a path to a JSON file.
 */
import { allowed, InputError } from "../util/errors.ts";
import { loadTaskConfig } from "./io.ts";
import { parseTaskConfig, type TaskConfig } from "./schema.ts";

const CONF_COMBO: unknown = {
  "batchsize": 16,
  "noise": { "type": "gaussian", "noise_level": 0.0 },
  "last_channel_l0": 1.0,
  "last_channel_l1": 1.0,
  "last_channel_l2": 1.0,
  "feature": {
    "0": {
      "sin1d": {
        "level": 1.0,
        "range": [0.375, 0.3875, 0.4, 0.4125, 0.425, 0.4375, 0.45, 0.4625, 0.475, 0.4875],
        "local": true,
      },
      "sin2d": {
        "level": 1.0,
        "range": [0.375, 0.3875, 0.4, 0.4125, 0.425, 0.4375, 0.45, 0.4625, 0.475, 0.4875],
        "local": true,
      },
      "dot": { "level": 1.0, "partial": 1.0, "local": true },
      "dot_gaussian": null,
      "resize": null,
    },
    "1": {
      "sin1d": {
        "level": 1.0,
        "range": [0.375, 0.3875, 0.4, 0.4125, 0.425, 0.4375, 0.45, 0.4625, 0.475, 0.4875],
        "local": true,
      },
      "sin2d": {
        "level": 1.0,
        "range": [0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35],
        "local": true,
      },
      "dot": null,
      "dot_gaussian": null,
      "resize": { "level": 1.0 },
    },
    "2": {
      "sin1d": {
        "level": 1.0,
        "range": [0.375, 0.3875, 0.4, 0.4125, 0.425, 0.4375, 0.45, 0.4625, 0.475, 0.4875],
        "local": true,
      },
      "sin2d": null,
      "dot": { "level": 1.0, "partial": 1.0, "local": true },
      "dot_gaussian": null,
      "resize": { "level": 1.0 },
    },
  },
};

const CONF_NB101: unknown = {
  "batchsize": 16,
  "noise": { "type": "uniform", "noise_level": 0.1 },
  "last_channel_l0": 1.0,
  "last_channel_l1": 0.75,
  "last_channel_l2": 0.25,
  "feature": {
    "0": {
      "sin1d": null,
      "sin2d": {
        "level": 1.0999999999999999,
        "range": [
          0.014257232402844334,
          0.0168671689792797,
          0.014930071944680878,
          0.0204012022061141,
          0.022935808834129698,
          0.0172234284050367,
          0.01564545022287097,
          0.019183789517967623,
          0.01550017992399958,
          0.014574095887562394,
        ],
        "local": true,
      },
      "dot": null,
      "dot_gaussian": null,
      "resize": null,
    },
    "1": {
      "sin1d": {
        "level": 1.7999999999999998,
        "range": [
          0.2991077123933203,
          0.3060359499425501,
          0.30375714406796583,
          0.2880217185797205,
          0.2934476311034326,
          0.2960826278609313,
          0.3058547556352616,
          0.2928834290170104,
          0.30562376104172906,
          0.29586053617133456,
        ],
        "local": true,
      },
      "sin2d": {
        "level": 2.8999999999999995,
        "range": [
          0.37984431962046133,
          0.3818358163414827,
          0.3583425915890292,
          0.3276257467988693,
          0.26487541063592235,
          0.2807695886901979,
          0.4205045860585813,
          0.3414214149894483,
          0.3036242990663395,
          0.4203015359951532,
        ],
        "local": true,
      },
      "dot": null,
      "dot_gaussian": { "level": 1.0999999999999999, "partial": 0.578125, "local": true },
      "resize": { "level": 2.3999999999999995 },
    },
    "2": {
      "sin1d": {
        "level": 1.4999999999999998,
        "range": [
          0.1539337022534557,
          0.10572650708639424,
          0.106631778214214,
          0.15756559392005454,
          0.1337356958776917,
          0.10509981523526175,
          0.13191482406159902,
          0.1317568276094524,
          0.10281716031383362,
          0.10936835489126645,
        ],
        "local": false,
      },
      "sin2d": {
        "level": 0.8999999999999999,
        "range": [
          0.1979369424135534,
          0.2030890995764645,
          0.10339032893028458,
          0.20484341381119886,
          0.13566384672510265,
          0.20905695437266292,
          0.24540172530847384,
          0.08635711325215838,
          0.13518427726099247,
          0.14525989963217315,
        ],
        "local": false,
      },
      "dot": null,
      "dot_gaussian": { "level": 2.0999999999999996, "partial": 0.4375, "local": false },
      "resize": { "level": 2.1999999999999997 },
    },
  },
};

const CONF_DARTS: unknown = {
  "batchsize": 16,
  "noise": { "type": "gaussian", "noise_level": 0.2 },
  "last_channel_l0": 1.25,
  "last_channel_l1": 0.5,
  "last_channel_l2": 1.25,
  "feature": {
    "0": {
      "sin1d": null,
      "sin2d": null,
      "dot": null,
      "dot_gaussian": { "level": 1.5999999999999996, "partial": 0.5, "local": true },
      "resize": { "level": 1.2999999999999998 },
    },
    "1": {
      "sin1d": null,
      "sin2d": null,
      "dot": { "level": 2.1999999999999997, "partial": 0.71875, "local": true },
      "dot_gaussian": { "level": 0.9999999999999999, "partial": 0.609375, "local": false },
      "resize": { "level": 2.0999999999999996 },
    },
    "2": {
      "sin1d": null,
      "sin2d": null,
      "dot": null,
      "dot_gaussian": { "level": 1.6999999999999997, "partial": 0.5625, "local": true },
      "resize": { "level": 0.5 },
    },
  },
};

const CONF_RESNET: unknown = {
  "batchsize": 16,
  "noise": { "type": "gaussian", "noise_level": 0.9 },
  "last_channel_l0": 0.25,
  "last_channel_l1": 0.25,
  "last_channel_l2": 0.5,
  "feature": {
    "0": {
      "sin1d": {
        "level": 1.0999999999999999,
        "range": [
          0.3792370317500072,
          0.3347572361903789,
          0.38353154227374914,
          0.2972907481491224,
          0.30638339798601666,
          0.3437610051983535,
          0.21573498175236644,
          0.33743001565752506,
          0.3203204782817462,
          0.23627768569837398,
        ],
        "local": false,
      },
      "sin2d": null,
      "dot": { "level": 0.5, "partial": 0.09375, "local": false },
      "dot_gaussian": null,
      "resize": null,
    },
    "1": {
      "sin1d": null,
      "sin2d": {
        "level": 1.1999999999999997,
        "range": [
          0.11852041568002372,
          0.22058736471430207,
          0.05964991789266724,
          0.2331100203802536,
          0.22724375247060088,
          0.26533940932269895,
          0.18766405869928884,
          0.108310279347472,
          0.1094640443283546,
          0.05631724845394532,
        ],
        "local": true,
      },
      "dot": { "level": 2.8999999999999995, "partial": 0.3125, "local": true },
      "dot_gaussian": null,
      "resize": { "level": 2.3 },
    },
    "2": {
      "sin1d": null,
      "sin2d": {
        "level": 1.7999999999999998,
        "range": [
          0.3785295480893762,
          0.379405523066469,
          0.3447434973611063,
          0.27059802706123703,
          0.26065558897167473,
          0.394464236618574,
          0.27927337806860797,
          0.3832390382592093,
          0.32280314267138166,
          0.30143889275192487,
        ],
        "local": true,
      },
      "dot": null,
      "dot_gaussian": { "level": 2.0999999999999996, "partial": 0.5, "local": false },
      "resize": null,
    },
  },
};

/** GenNAS-single (CNN): stage-2 Dot 100% only, trained and scored on stage 2 alone (§3.2, §10.9). */
const SINGLE: unknown = {
  batchsize: 16,
  noise: { type: "gaussian", noise_level: 0.0 },
  last_channel_l0: 1.0,
  last_channel_l1: 1.0,
  last_channel_l2: 1.0,
  feature: {
    "0": { sin1d: null, sin2d: null, dot: null, dot_gaussian: null, resize: null },
    "1": { sin1d: null, sin2d: null, dot: null, dot_gaussian: null, resize: null },
    "2": {
      sin1d: null,
      sin2d: null,
      dot: { level: 1.0, partial: 1.0, local: true },
      dot_gaussian: null,
      resize: null,
    },
  },
  train_weights: [0, 0, 1],
  eval_weights: [0, 0, 1],
};

const RAW_PRESETS = {
  "combo": CONF_COMBO,
  "search-N": CONF_NB101,
  "search-D": CONF_DARTS,
  "search-R": CONF_RESNET,
  "single": SINGLE,
} as const;

export type PresetName = keyof typeof RAW_PRESETS;
export const PRESET_NAMES = Object.keys(RAW_PRESETS) as PresetName[];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The presets, validated and frozen; `resolveTask` hands out mutable copies. */
export const PRESETS: Readonly<Record<PresetName, TaskConfig>> = deepFreeze(
  Object.fromEntries(
    PRESET_NAMES.map((name) => [name, parseTaskConfig(RAW_PRESETS[name], `preset "${name}"`)]),
  ) as Record<PresetName, TaskConfig>,
);

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(RAW_PRESETS, name);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function looksLikePath(text: string): boolean {
  return /[\\/]/.test(text) || text.toLowerCase().endsWith(".json");
}

/**
 * A preset name (see PRESET_NAMES) or a path to a task JSON file. The returned config is a fresh
 * copy. Throws InputError for an unknown name, a missing or unreadable file, bad JSON or a schema
 * violation, naming the file and the problem.
 */
export async function resolveTask(
  nameOrPath: string,
): Promise<{ name: string; config: TaskConfig }> {
  if (isPresetName(nameOrPath)) {
    return { name: nameOrPath, config: structuredClone(PRESETS[nameOrPath]) };
  }
  if (await isFile(nameOrPath)) {
    return { name: nameOrPath, config: await loadTaskConfig(nameOrPath) };
  }
  if (looksLikePath(nameOrPath)) {
    throw new InputError(
      `task file "${nameOrPath}" not found (and it is not a preset: ${allowed(PRESET_NAMES)})`,
    );
  }
  throw new InputError(
    `unknown task "${nameOrPath}": expected a preset name (${allowed(PRESET_NAMES)}) ` +
      "or the path of a task JSON file",
  );
}
