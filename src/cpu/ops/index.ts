/** Loads every instruction group so its handlers are registered before decoding starts. */
import './alu';
import './data';
import './control';
import './far';
import './system';
import './xsave';
import './shift';
import './muldiv';
import './bits';
import './bcd';
import './string';
import './bmi';
import './descriptors';
import './fastsys';
import './vmxops';
