import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite("MemoryComplianceStore")
struct MemoryComplianceStoreTests {
    @Test("MemoryMetadataStore ComplianceStore conformance", arguments: ComplianceStoreConformance.checks)
    func conformance(_ check: ComplianceStoreConformance.Check) async throws {
        try await check.run(MemoryMetadataStore())
    }
}
