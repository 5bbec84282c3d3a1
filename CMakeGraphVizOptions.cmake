# What `cmake --graphviz=FILE` draws (docs/architecture.md): ganaug's own layers and tools, not
# the external libraries, tests, benchmarks or build helpers.
set(GRAPHVIZ_GRAPH_NAME "ganaug layers")
set(GRAPHVIZ_EXTERNAL_LIBS FALSE)
set(GRAPHVIZ_INTERFACE_LIBS FALSE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
set(GRAPHVIZ_IGNORE_TARGETS "^test_" "^bench_" "^fuzz_" "^dist_worker$" "^make_corpus$"
                            "_pch$" "^ganaug_warnings$" "^gtest" "^gmock")
