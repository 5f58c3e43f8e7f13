import { expect } from 'chai';
import { checkClient, clientHintsFromNavigator } from '../../../plugins/remote-support/dist/src/client-os.js';

// Real user-agent strings as the browsers send them.
const UA = {
  win7Chrome: 'Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36',
  win7Firefox32: 'Mozilla/5.0 (Windows NT 6.1; rv:115.0) Gecko/20100101 Firefox/115.0',
  win8x86: 'Mozilla/5.0 (Windows NT 6.2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36',
  win8x64: 'Mozilla/5.0 (Windows NT 6.2; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36',
  win81Wow64: 'Mozilla/5.0 (Windows NT 6.3; WOW64; rv:115.0) Gecko/20100101 Firefox/115.0',
  win81x86: 'Mozilla/5.0 (Windows NT 6.3; rv:115.0) Gecko/20100101 Firefox/115.0',
  win10Chrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  win10Edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  win10Firefox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  winXP: 'Mozilla/5.0 (Windows NT 5.1; rv:52.0) Gecko/20100101 Firefox/52.0',
  macMojaveSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Safari/605.1.15',
  macHighSierraSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.2 Safari/605.1.15',
  macElCapitanChrome: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/103.0.0.0 Safari/537.36',
  macFrozenChrome: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  macFrozenSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  macFirefox: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0',
  linuxChrome: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  ubuntuFirefox: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  androidPhone: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  androidTablet: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  iPhone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  iPadSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  chromebook: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
};

describe('remote-support: check of the operator\'s PC (real user-agent strings)', () => {
  describe('Windows', () => {
    it('Windows 7 is not supported', () => {
      for (const ua of [UA.win7Chrome, UA.win7Firefox32]) {
        const c = checkClient({ userAgent: ua });
        expect(c.os).to.equal('windows');
        expect(c.supported, ua).to.equal(false);
        expect(c.label).to.match(/^Windows 7/);
        expect(c.verdict).to.contain('nicht unterstützt').and.to.contain('Windows 8');
        expect(c.steps).to.deep.equal([]);
      }
    });

    it('Windows XP is not supported', () => {
      expect(checkClient({ userAgent: UA.winXP }).supported).to.equal(false);
    });

    it('Windows 8 and 8.1 with 32 bit are not supported, with 64 bit they are', () => {
      const w8x86 = checkClient({ userAgent: UA.win8x86 });
      expect(w8x86.supported).to.equal(false);
      expect(w8x86.label).to.equal('Windows 8 (32 Bit)');
      expect(w8x86.verdict).to.contain('64-Bit');
      expect(checkClient({ userAgent: UA.win81x86 }).supported).to.equal(false);

      const w8x64 = checkClient({ userAgent: UA.win8x64 });
      expect(w8x64.supported).to.equal(true);
      expect(w8x64.label).to.equal('Windows 8 (64 Bit)');
      const w81 = checkClient({ userAgent: UA.win81Wow64 }); // 32-bit Firefox on a 64-bit Windows 8.1
      expect(w81.supported).to.equal(true);
      expect(w81.label).to.equal('Windows 8.1 (64 Bit)');
    });

    it('Windows 10: the user agent alone cannot tell 10 from 11, and says so', () => {
      for (const ua of [UA.win10Chrome, UA.win10Edge, UA.win10Firefox]) {
        const c = checkClient({ userAgent: ua });
        expect(c.supported, ua).to.equal(true);
        expect(c.label).to.equal('Windows 10 oder 11 (64 Bit)');
      }
    });

    it('Windows 11 from navigator.userAgentData (platformVersion ≥ 13, while the UA says NT 10.0)', () => {
      const c = checkClient({
        userAgent: UA.win10Chrome,
        userAgentData: { platform: 'Windows', mobile: false, platformVersion: '15.0.0', architecture: 'x86', bitness: '64' },
      });
      expect(c.label).to.equal('Windows 11 (64 Bit)');
      expect(c.supported).to.equal(true);
      const w10 = checkClient({
        userAgent: UA.win10Chrome,
        userAgentData: { platform: 'Windows', platformVersion: '10.0.0', architecture: 'x86', bitness: '64' },
      });
      expect(w10.label).to.equal('Windows 10 (64 Bit)');
    });

    it('Windows 7 from userAgentData (platformVersion 0.1.0) is not supported', () => {
      const c = checkClient({ userAgent: UA.win7Chrome, userAgentData: { platform: 'Windows', platformVersion: '0.1.0', bitness: '64' } });
      expect(c.label).to.equal('Windows 7 (64 Bit)');
      expect(c.supported).to.equal(false);
    });

    it('Windows on an ARM processor does not meet "Windows 8 Intel 64"', () => {
      const c = checkClient({ userAgent: UA.win10Chrome, userAgentData: { platform: 'Windows', platformVersion: '15.0.0', architecture: 'arm', bitness: '64' } });
      expect(c.supported).to.equal(false);
      expect(c.label).to.contain('ARM');
    });

    it('gives the Windows download and the vendor\'s install steps', () => {
      const c = checkClient({ userAgent: UA.win10Chrome });
      expect(c.download).to.contain('x86_64.exe');
      const steps = c.steps.join('\n');
      expect(steps).to.contain('Desktop App');
      expect(steps).to.contain('„Desktop Symbol erstellen“');
      expect(steps).to.contain('„Akzeptieren und Installieren“');
      expect(steps).to.contain('Sitzungsanfrage des Technikers akzeptieren');
    });
  });

  describe('macOS', () => {
    it('macOS 10.14 is supported, with Accessibility and Screen Recording but no Input Monitoring', () => {
      const c = checkClient({ userAgent: UA.macMojaveSafari });
      expect(c.supported).to.equal(true);
      expect(c.label).to.equal('macOS 10.14');
      const steps = c.steps.join('\n');
      expect(steps).to.contain('Applications').and.to.contain('Bedienungshilfen').and.to.contain('Bildschirmaufnahme');
      expect(steps).not.to.contain('Eingabeüberwachung');
    });

    it('macOS 10.13 and older are not supported', () => {
      for (const ua of [UA.macHighSierraSafari, UA.macElCapitanChrome]) {
        const c = checkClient({ userAgent: ua });
        expect(c.supported, ua).to.equal(false);
        expect(c.verdict).to.contain('nicht unterstützt').and.to.contain('10.14');
      }
      expect(checkClient({ userAgent: UA.macHighSierraSafari }).label).to.equal('macOS 10.13');
    });

    it('the frozen user agent (10_15_7, Firefox 10.15) means "10.15 or newer": supported, Input Monitoring too', () => {
      for (const ua of [UA.macFrozenChrome, UA.macFrozenSafari, UA.macFirefox]) {
        const c = checkClient({ userAgent: ua, maxTouchPoints: 0 });
        expect(c.supported, ua).to.equal(true);
        expect(c.label).to.equal('macOS 10.15 oder neuer');
        expect(c.steps.join('\n')).to.contain('Eingabeüberwachung');
      }
    });

    it('the real macOS version and chip from userAgentData', () => {
      const c = checkClient({ userAgent: UA.macFrozenChrome, userAgentData: { platform: 'macOS', platformVersion: '14.6.1', architecture: 'arm', bitness: '64' } });
      expect(c.label).to.equal('macOS 14');
      expect(c.supported).to.equal(true);
      expect(c.download).to.contain('aarch64.dmg');
      const old = checkClient({ userAgent: UA.macFrozenChrome, userAgentData: { platform: 'macOS', platformVersion: '10.13.6', architecture: 'x86' } });
      expect(old.supported).to.equal(false);
    });
  });

  describe('Linux and other devices', () => {
    it('Linux is supported, with the .deb install', () => {
      for (const ua of [UA.linuxChrome, UA.ubuntuFirefox]) {
        const c = checkClient({ userAgent: ua });
        expect(c.os).to.equal('linux');
        expect(c.supported).to.equal(true);
        expect(c.steps.join('\n')).to.contain('.deb');
      }
    });

    it('Android phones and tablets, iPhone and iPad are not supported for remote support', () => {
      const phone = checkClient({ userAgent: UA.androidPhone, userAgentData: { platform: 'Android', mobile: true } });
      expect(phone.os).to.equal('android');
      expect(phone.label).to.equal('Android-Smartphone');
      expect(phone.supported).to.equal(false);
      expect(checkClient({ userAgent: UA.androidTablet }).label).to.equal('Android-Tablet');
      const iphone = checkClient({ userAgent: UA.iPhone });
      expect(iphone.os).to.equal('ios');
      expect(iphone.supported).to.equal(false);
      expect(iphone.verdict).to.contain('nicht unterstützt');
      // iPadOS Safari sends a Mac user agent; it has touch points, a Mac has none.
      const ipad = checkClient({ userAgent: UA.iPadSafari, maxTouchPoints: 5 });
      expect(ipad.label).to.equal('iPad (iPadOS)');
      expect(ipad.supported).to.equal(false);
    });

    it('a Chromebook is not supported; an unknown system is "unknown", not a guess', () => {
      expect(checkClient({ userAgent: UA.chromebook }).supported).to.equal(false);
      const u = checkClient({ userAgent: 'curl/8.5.0' });
      expect(u.os).to.equal('unknown');
      expect(u.supported).to.equal(null);
    });
  });

  describe('collecting the hints in the browser', () => {
    it('merges getHighEntropyValues into userAgentData', async () => {
      const h = await clientHintsFromNavigator({
        userAgent: UA.win10Chrome, maxTouchPoints: 0,
        userAgentData: {
          platform: 'Windows', mobile: false,
          getHighEntropyValues: async () => ({ platformVersion: '13.0.0', architecture: 'x86', bitness: '64' }),
        },
      });
      expect(checkClient(h).label).to.equal('Windows 11 (64 Bit)');
    });

    it('falls back to the user agent when the browser refuses the high-entropy values', async () => {
      const h = await clientHintsFromNavigator({
        userAgent: UA.win10Chrome,
        userAgentData: { platform: 'Windows', getHighEntropyValues: async () => { throw new Error('NotAllowedError'); } },
      });
      expect(checkClient(h).label).to.equal('Windows 10 oder 11 (64 Bit)');
    });
  });
});
