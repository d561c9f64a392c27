import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite("MemorySecurityStore")
struct MemorySecurityStoreTests {
    @Test("MemoryMetadataStore SecurityStore conformance", arguments: SecurityStoreConformance.checks)
    func conformance(_ check: SecurityStoreConformance.Check) async throws {
        try await check.run(MemoryMetadataStore())
    }
}
