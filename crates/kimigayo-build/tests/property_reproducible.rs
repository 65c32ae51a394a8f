//! Property 19: building the same source several times gives bit-identical output.

mod common;

use common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 19: 任意のソースコードに対して、Build_Systemは複数回のビルドでビット同一の出力を生成しなければならない**
    #[test]
    fn repeated_builds_are_bit_identical(prog in c_program(), link in linkage()) {
        let s = scratch_with_program(&prog, link);
        let first = build_prog(&s, |_| {});
        let second = build_prog(&s, |_| {});
        prop_assert!(first == second, "{:?}", kimigayo_package::compare_archives(&first, &second));
    }
}
