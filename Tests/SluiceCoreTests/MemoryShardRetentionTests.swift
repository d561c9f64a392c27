import SluiceCore
import SluiceTesting
import Testing

@Suite("MemoryMetadataStore as a ShardRetentionStore")
struct MemoryShardRetentionTests {
    @Test("conformance", arguments: ShardRetentionStoreConformance.checks)
    func conformance(_ check: ShardRetentionStoreConformance.Check) async throws {
        try await check.run(MemoryMetadataStore())
    }
}
