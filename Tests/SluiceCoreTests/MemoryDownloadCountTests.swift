import SluiceCore
import SluiceTesting
import Testing

@Suite("MemoryMetadataStore as a DownloadCountStore")
struct MemoryDownloadCountTests {
    @Test("conformance", arguments: DownloadCountStoreConformance.checks)
    func conformance(_ check: DownloadCountStoreConformance.Check) async throws {
        try await check.run(MemoryMetadataStore())
    }
}
