import Foundation
import HummingbirdBcrypt
import Logging
import NIOPosix
import SluiceCore

/// Creates the built-in `Admin` user on first start.
public enum AdminBootstrap {
    /// The bcrypt cost of stored password hashes.
    public static let bcryptCost: UInt8 = 12

    /// Creates `Admin` unless it exists. The password is `initialPassword` (from `SLUICE_ADMIN_PASSWORD`) or, when
    /// nil, a generated one that is logged exactly once, in this call; a given password is never logged.
    /// Two servers starting at once on one database cannot both create it: the store refuses the second (`.conflict`),
    /// which this treats as "exists".
    /// - Returns: true if this call created the user.
    /// - Throws: `SluiceError.storageFailure` (or the store's error) if the database fails.
    @discardableResult
    public static func ensureAdminUser(
        metadata: any MetadataStore, initialPassword: String?, logger: Logger, bcryptCost: UInt8 = bcryptCost
    ) async throws -> Bool {
        if try await metadata.user(named: SecurityBootstrap.adminUserName) != nil { return false }
        let password = initialPassword ?? generatePassword()
        let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: bcryptCost) }
        do {
            try await metadata.createUser(
                User(name: SecurityBootstrap.adminUserName, displayName: "Administrator", passwordHash: hash))
        } catch let error as SluiceError where error.code == .conflict {
            return false
        }
        if initialPassword == nil {
            // The one and only time this password is shown (the issue asks for it to be printed once in the log).
            logger.notice(
                "Created the Admin user with the generated password: \(password)  (shown only this once; set SLUICE_ADMIN_PASSWORD before the first start to choose it)"
            )
        } else {
            logger.notice("Created the Admin user with the password from SLUICE_ADMIN_PASSWORD.")
        }
        return true
    }

    /// A random password of `length` letters and digits from the system's secure generator.
    public static func generatePassword(length: Int = 24) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
