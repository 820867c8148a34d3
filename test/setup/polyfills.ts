// aws-local-stepfunctions relies on Promise.withResolvers, which Node 20 lacks.
import '../../local/polyfills.js';
