import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

@Suite("Compliance: licence normalisation")
struct ComplianceLicenseTests {
    /// Real spellings from the fixtures' repodata and packages, and the SPDX expression each must become.
    @Test(arguments: [
        ("BSD", "BSD-3-Clause"),
        ("BSD 3-Clause", "BSD-3-Clause"),
        ("BSD-3-Clause", "BSD-3-Clause"),
        ("BSD-3", "BSD-3-Clause"),
        ("BSD_3_clause + file LICENSE", "BSD-3-Clause"),
        ("BSD_3_clause + file LICENCE", "BSD-3-Clause"),
        ("Modified BSD License (3-clause)", "BSD-3-Clause"),
        ("BSD 2-Clause", "BSD-2-Clause"),
        ("BSD_2_clause + file LICENSE", "BSD-2-Clause"),
        ("MIT", "MIT"),
        ("MIT License", "MIT"),
        ("MIT + file LICENSE", "MIT"),
        ("Apache 2.0", "Apache-2.0"),
        ("Apache-2.0", "Apache-2.0"),
        ("Apache", "Apache-2.0"),
        ("Apache License 2.0", "Apache-2.0"),
        ("Apache License (== 2.0)", "Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("GPL (>= 2)", "GPL-2.0-or-later"),
        ("GPL (>= 2.0)", "GPL-2.0-or-later"),
        ("GPL (>= 3) + file LICENSE", "GPL-3.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("GPL-2.0", "GPL-2.0-only"),
        ("GPL version 2", "GPL-2.0-only"),
        ("GPLv2", "GPL-2.0-only"),
        ("GPL-3", "GPL-3.0-only"),
        ("GPL-3.0", "GPL-3.0-only"),
        ("GPL-3.0-only", "GPL-3.0-only"),
        ("GPL-3.0-or-later", "GPL-3.0-or-later"),
        ("GPLv3+", "GPL-3.0-or-later"),
        ("GPL", "GPL-1.0-or-later"),
        ("GNU General Public License v2 or later (GPLv2+)", "GPL-2.0-or-later"),
        ("GNU General Public License v3 (GPLv3)", "GPL-3.0-only"),
        ("LGPL (>= 2)", "LGPL-2.0-or-later"),
        ("LGPL (>= 2.1)", "LGPL-2.1-or-later"),
        ("LGPL-2", "LGPL-2.0-only"),
        ("LGPL-2.1", "LGPL-2.1-only"),
        ("LGPL-2.1-only", "LGPL-2.1-only"),
        ("LGPL-2.1-or-later", "LGPL-2.1-or-later"),
        ("LGPL-3", "LGPL-3.0-only"),
        ("LGPLv2+", "LGPL-2.0-or-later"),
        ("LGPL", "LGPL-2.0-or-later"),
        ("GNU Lesser General Public License (LGPL)", "LGPL-2.0-or-later"),
        ("AGPL-3", "AGPL-3.0-only"),
        ("PSF", "PSF-2.0"),
        ("Python-2.0", "Python-2.0"),
        ("ISC", "ISC"),
        ("zlib", "Zlib"),
        ("Zlib", "Zlib"),
        ("zlib (http://zlib.net/zlib_license.html)", "Zlib"),
        ("CC0", "CC0-1.0"),
        ("BSL-1.0", "BSL-1.0"),
        ("Unlicense", "Unlicense"),
        ("MPLv2.0", "MPL-2.0"),
        ("Public Domain", "LicenseRef-Public-Domain"),
        ("Public-Domain", "LicenseRef-Public-Domain"),
        ("LicenseRef-Public-Domain", "LicenseRef-Public-Domain"),
        ("LicenseRef-NVIDIA-End-User-License-Agreement", "LicenseRef-NVIDIA-End-User-License-Agreement"),
        ("Proprietary", "LicenseRef-Proprietary"),
        ("Lucent Public License", "LPL-1.02"),
        ("SIL Open Font License, Version 1.1", "OFL-1.1"),
        ("OFL", "OFL-1.1"),
        ("Ubuntu Font Licence Version 1.0", "Ubuntu-font-1.0"),
        ("bzip2-1.0.6", "bzip2-1.0.6"),
        ("wxWidgets", "wxWindows"),
        ("libtiff", "libtiff"),
        ("TCL", "TCL"),
        ("GPL-2 | GPL-3", "GPL-2.0-only OR GPL-3.0-only"),
        ("GPL-2 | LGPL-2.1 | MPL-1.1", "GPL-2.0-only OR LGPL-2.1-only OR MPL-1.1"),
        ("GPL-2 | MIT + file LICENSE", "GPL-2.0-only OR MIT"),
        ("LGPL-2.1 and GPL-2.0", "LGPL-2.1-only AND GPL-2.0-only"),
        ("X11 AND BSD-3-Clause", "X11 AND BSD-3-Clause"),
        ("LGPLv2 or MPLv1.1", "LGPL-2.0-only OR MPL-1.1"),
        ("Commercial or AGPLv3", "LicenseRef-Proprietary OR AGPL-3.0-only"),
        ("FTL or GPLv2+", "FTL OR GPL-2.0-or-later"),
        ("(Ruby or BSD) and Public Domain", "(Ruby OR BSD-3-Clause) AND LicenseRef-Public-Domain"),
        (
            "(Ruby or GPLv2) and (GPL+ or Artistic)",
            "(Ruby OR GPL-2.0-only) AND (GPL-1.0-or-later OR Artistic-1.0-Perl)"
        ),
        (
            "LGPLv2+ and (LGPLv2+ or MPLv1.1) and Public Domain",
            "LGPL-2.0-or-later AND (LGPL-2.0-or-later OR MPL-1.1) AND LicenseRef-Public-Domain"
        ),
        ("GPL-3.0-only WITH GCC-exception-3.1", "GPL-3.0-only WITH GCC-exception-3.1"),
        ("IJG, modified 3-clause BSD and zlib", "IJG AND BSD-3-Clause AND Zlib"),
        ("Sleepycat and BSD", "Sleepycat AND BSD-3-Clause"),
        ("gpl-2.0+ OR (mit AND isc)", "GPL-2.0-or-later OR (MIT AND ISC)"),
    ])
    func normalises(spelling: String, spdx: String) {
        let license = LicenseNormalizer.normalize(spelling)
        #expect(license.spdx == spdx, "\(spelling) → \(license.expression?.spdx ?? "nil")")
        #expect(license.original == spelling)
        #expect(license.isKnown)
        // The SPDX text reads back to the same expression.
        #expect(LicenseNormalizer.normalize(spdx).expression == license.expression)
    }

    @Test(arguments: [
        "Unlimited", "Various", "file LICENSE", "file LICENSE (FOSS)", "contract in blood", "UCD-ish terms",
    ])
    func unknownSpellingsStayUnknown(spelling: String) {
        let license = LicenseNormalizer.normalize(spelling)
        #expect(!license.isKnown)
        #expect(!license.isMissing)
        #expect(license.spdx == nil)
        #expect(license.expression?.unknownParts == [spelling])
        #expect(license.original == spelling)
    }

    @Test func partlyKnownExpressionsKeepTheirKnownParts() {
        let license = LicenseNormalizer.normalize("MIT + file LICENSE | Unlimited")
        #expect(license.expression == .or([.license("MIT"), .unknown("Unlimited")]))
        #expect(!license.isKnown)
        #expect(license.expression?.licenseIDs == ["MIT"])
        let gpl = LicenseNormalizer.normalize("GPL-3 | file LICENSE")
        #expect(gpl.expression == .or([.license("GPL-3.0-only"), .unknown("file LICENSE")]))
    }

    @Test func missingAndEmptyLicenses() {
        for text in [nil, "", "  ", "None", "Unknown", "NOASSERTION"] as [String?] {
            let license = LicenseNormalizer.normalize(text)
            #expect(license.isMissing, "\(String(describing: text))")
            #expect(license.original == text)
            #expect(!license.isKnown)
        }
    }

    @Test func encodesAsASummaryAndDecodesByNormalisingAgain() throws {
        let license = LicenseNormalizer.normalize("BSD 3-Clause")
        let data = try JSONEncoder().encode(license)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["original"] as? String == "BSD 3-Clause")
        #expect(object["spdx"] as? String == "BSD-3-Clause")
        #expect(object["known"] as? Bool == true)
        #expect(try JSONDecoder().decode(NormalizedLicense.self, from: data) == license)
    }

    /// Every distinct `license` text in the fixtures' repodata: each keeps its text, most (weighted by use) become
    /// SPDX, and a recognised expression is stable under normalising its SPDX form again.
    @Test func everyLicenseSpellingInTheFixtureRepodata() throws {
        var counts: [String: Int] = [:]
        let enumerator = FileManager.default.enumerator(at: Fixtures.root, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            guard url.pathExtension == "json" else { continue }
            guard let document = try? JSONValue.parse(Array(try Data(contentsOf: url))) else { continue }
            for section in ["packages", "packages.conda"] {
                for (_, record) in document[section]?.objectValue ?? [:] {
                    if let text = record["license"]?.stringValue { counts[text, default: 0] += 1 }
                }
            }
        }
        #expect(counts.count > 90, "the fixtures hold about a hundred distinct spellings")
        var known = 0
        var total = 0
        for (text, count) in counts {
            let license = LicenseNormalizer.normalize(text)
            #expect(license.original == text)
            total += count
            if license.isKnown {
                known += count
                let spdx = try #require(license.spdx)
                #expect(LicenseNormalizer.normalize(spdx).spdx == spdx, "\(text) → \(spdx)")
            }
        }
        #expect(Double(known) / Double(total) > 0.9, "\(known) of \(total) records recognised")
    }
}
